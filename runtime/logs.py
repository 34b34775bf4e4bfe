"""Structured logs: one JSON object per line (`ts`, `level`, `process`, `logger`, `msg`, and
`exc` with the traceback), through the stdlib `logging` machinery.

`setup_logging(process)` configures the root logger: JSON when `MEDLEDGER_LOG_FORMAT=json`
(as `medledger up` sets for its children), else the plain one-line text format.

The API's access log (uvicorn's `uvicorn.access` records) keeps no client address: every
line says `-` where uvicorn writes the peer's IP and port (`AccessLogPrivacy`). Dropping
the address from every line, rather than the query string of verification requests only,
is what keeps IPs apart from scans: a Digital Link carries the scanned code in its path
(`/01/<gtin>/21/<serial>`), and the rate limiter and sign-in throttle need no log. The
query string of verification requests (`/v1/verify`, the resolver paths, the portal's
verify page) is dropped too: it holds the scan's exact lat/lon, where the scan log keeps
it rounded to 0.1°.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time

__all__ = ["AccessLogPrivacy", "JsonFormatter", "setup_logging"]

ACCESS_LOGGER = "uvicorn.access"
# Paths whose query string is a scan's place or a label's dates (api.routes.verify).
_VERIFY_PATH = re.compile(r"^(/v1/verify|/01/|/00/|/portal/verify)")


class AccessLogPrivacy(logging.Filter):
    """Rewrites uvicorn's access records (`'%s - "%s %s HTTP/%s" %d'`: client, method,
    path with query, HTTP version, status) so they hold no client address, and no query
    string on verification paths."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            _client, method, path, version, status = args
            path = str(path)
            if _VERIFY_PATH.match(path):
                path = path.partition("?")[0]
            record.args = ("-", method, path, version, status)
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self.process_name = process

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "process": self.process_name,
            "pid": record.process,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def json_logs_wanted() -> bool:
    return os.environ.get("MEDLEDGER_LOG_FORMAT", "").lower() == "json"


def setup_logging(process: str) -> None:
    """Root logger at INFO (DEBUG with MEDLEDGER_DEBUG) to stderr, JSON or text."""
    level = logging.DEBUG if os.environ.get("MEDLEDGER_DEBUG") else logging.INFO
    handler = logging.StreamHandler()
    if json_logs_wanted():
        handler.setFormatter(JsonFormatter(process))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # warnings become log records (JSON lines too)
    for name in ("uvicorn", "uvicorn.error", ACCESS_LOGGER):
        logger = logging.getLogger(name)
        logger.handlers[:] = []  # propagate to the root handler, at the root's level
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
        logger.disabled = False
    access = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, AccessLogPrivacy) for f in access.filters):
        access.addFilter(AccessLogPrivacy())
