"""A small JSON-RPC client over one keep-alive HTTP connection (follower and bench)."""

from __future__ import annotations

import http.client
import json
import threading
from typing import Any
from urllib.parse import urlparse

from medledger.node.errors import INTERNAL_ERROR, RpcError

__all__ = ["RpcClient"]


class RpcClient:
    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ValueError(f"expected an http:// URL, got {url!r}")
        self._host = parsed.hostname
        self._port = parsed.port or 80
        self._path = parsed.path or "/"
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self._id = 0

    def _post(self, payload: Any) -> Any:
        body = json.dumps(payload).encode()
        with self._lock:
            for attempt in (0, 1):
                if self._conn is None:
                    self._conn = http.client.HTTPConnection(
                        self._host, self._port, timeout=self._timeout
                    )
                try:
                    self._conn.request(
                        "POST", self._path, body, {"Content-Type": "application/json"}
                    )
                    return json.loads(self._conn.getresponse().read())
                except (OSError, http.client.HTTPException):
                    self._conn.close()
                    self._conn = None
                    if attempt:
                        raise
        raise AssertionError("unreachable")

    def call(self, method: str, *params: Any) -> Any:
        self._id += 1
        answer = self._post({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        if "error" in answer:
            e = answer["error"]
            raise RpcError(e["code"], e["message"], e.get("data"))
        return answer["result"]

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Results in order; an error answer is returned as an `RpcError` instance."""
        payload = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)
        ]
        answer = self._post(payload)
        if not isinstance(answer, list):
            error = answer.get("error", {}) if isinstance(answer, dict) else {}
            raise RpcError(
                error.get("code", INTERNAL_ERROR),
                f"the batch of {len(calls)} calls was refused: {error.get('message', answer)}",
            )
        answers = {a["id"]: a for a in answer}
        out: list[Any] = []
        for i in range(len(calls)):
            a = answers[i]
            if "error" in a:
                out.append(
                    RpcError(a["error"]["code"], a["error"]["message"], a["error"].get("data"))
                )
            else:
                out.append(a["result"])
        return out

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
