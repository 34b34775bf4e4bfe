"""Structured logs: one JSON object per line (`ts`, `level`, `process`, `logger`, `msg`, and
`exc` with the traceback), through the stdlib `logging` machinery.

`setup_logging(process)` configures the root logger: JSON when `MEDLEDGER_LOG_FORMAT=json`
(as `medledger up` sets for its children), else the plain one-line text format.
"""

from __future__ import annotations

import json
import logging
import os
import time

__all__ = ["JsonFormatter", "setup_logging"]


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
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []  # propagate to the root handler
        logging.getLogger(name).propagate = True
