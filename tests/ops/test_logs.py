"""Structured logs: the API's access log keeps no client address, and no query string on
verification paths (issue 13, finding 12)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from medledger.runtime.logs import AccessLogPrivacy, setup_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    access = logging.getLogger("uvicorn.access")
    saved = (root.handlers[:], root.level, access.filters[:], access.handlers[:], access.level)
    try:
        yield
    finally:
        root.handlers[:], _, access.filters[:], access.handlers[:], _ = saved
        root.setLevel(saved[1])
        access.setLevel(saved[4])


def test_setting_up_logging_takes_back_levels_a_served_app_left_behind(
    restore_logging: None,
) -> None:
    # uvicorn.Config(log_level="warning"), as benchmarks serve, leaves its loggers there.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    setup_logging("api")
    assert logging.getLogger("uvicorn.access").isEnabledFor(logging.INFO)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_a_served_request_is_logged_without_its_client_address_or_scan_place(
    restore_logging: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDLEDGER_LOG_FORMAT", "json")
    setup_logging("api")  # as `medledger api` does, before uvicorn serves with log_config=None
    app = FastAPI()

    @app.get("/{path:path}")
    def anything(path: str) -> dict[str, str]:
        return {"path": path}

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        base = f"http://127.0.0.1:{port}"
        httpx.get(base + "/v1/verify", params={"code": "(01)0950(21)SN7", "lat": "31.2345"})
        httpx.get(base + "/01/09506000134352/21/SN000007", params={"17": "281231"})
        httpx.get(base + "/v1/partner/shipments", params={"limit": "5"})
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    access = [e["msg"] for e in lines if e["logger"] == "uvicorn.access"]
    assert access == [
        '- - "GET /v1/verify HTTP/1.1" 200',
        '- - "GET /01/09506000134352/21/SN000007 HTTP/1.1" 200',
        '- - "GET /v1/partner/shipments?limit=5 HTTP/1.1" 200',
    ]
    # The only address the server logs is its own, in its start-up line (the test's own
    # httpx client logs its requests too).
    served = [e["msg"] for e in lines if e["logger"].startswith("uvicorn")]
    assert [m for m in served if "127.0.0.1" in m] == [
        f"Uvicorn running on http://127.0.0.1:{port} (Press CTRL+C to quit)"
    ]


def test_setting_up_logging_twice_filters_once(restore_logging: None) -> None:
    setup_logging("api")
    setup_logging("api")
    filters = logging.getLogger("uvicorn.access").filters
    assert sum(isinstance(f, AccessLogPrivacy) for f in filters) == 1


def test_records_that_are_not_uvicorns_access_lines_pass_unchanged() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, "%s %s", ("a", "b"), None)
    assert AccessLogPrivacy().filter(record) and record.getMessage() == "a b"
