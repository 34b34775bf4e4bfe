"""The API's HTTP listener: uvicorn's httptools protocol with bounds on request heads.

uvicorn closes a connection idle `timeout_keep_alive` seconds after a response, but its
httptools protocol cancels that timer on the first byte that arrives and has no deadline at
all before a connection's first request, and httptools buffers a request head of any size.
A client that connects and sends nothing, or drips its head a byte at a time, held a
connection for ever, and one that sent megabytes of header held the memory.
`BoundedHttpToolsProtocol` adds:

- a head deadline: a request's head must be complete `timeout_keep_alive` seconds after
  the connection opened or the previous response ended, else the connection is closed;
- a head size: more than `h11_max_incomplete_event_size` bytes (uvicorn's own knob for the
  same bound in its h11 protocol) before the head is complete is a 400;
- no reading past an answer: once the response to a request is complete while its body is
  still arriving, the connection is closed instead of reading the rest for nothing.

`uvicorn_options(settings)` is everything `api.serve` passes uvicorn to bound a listener:
this protocol, the idle/head timeout, a cap on connections and concurrent requests (more
are answered 503), the largest head, no WebSocket upgrades (the API has none), and which
proxies' X-Forwarded-For is believed: only `settings.forwarded_allow_ips`, none by default
(uvicorn's own default trusts 127.0.0.1, so any local client could choose the address its
per-address budgets are charged to, and the FORWARDED_ALLOW_IPS variable is not read).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from medledger.domain.settings import ApiSettings

__all__ = ["BoundedHttpToolsProtocol", "uvicorn_options"]

DEFAULT_MAX_HEAD_BYTES = 16 * 1024


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_head = self.config.h11_max_incomplete_event_size or DEFAULT_MAX_HEAD_BYTES
        self._head_open = True  # waiting for (the rest of) a request head
        self._head_bytes = 0
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_open:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._head_open and self._head_bytes > self._max_head:
            if not self.transport.is_closing():
                self.send_400_response("Request head too large.")

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._cancel_deadline()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_open = True
        self._head_bytes = 0

    def on_response_complete(self) -> None:
        cycle = self.cycle  # the newest request; the one answered unless pipelined
        if cycle is not None and cycle.response_complete and cycle.more_body:
            self.transport.close()  # answered before its body ended: the rest is not wanted
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_head()

    def _await_head(self) -> None:
        self._cancel_deadline()
        self._head_deadline = self.loop.call_later(self.timeout_keep_alive, self._head_late)

    def _head_late(self) -> None:
        self._head_deadline = None
        if self._head_open and not self.transport.is_closing():
            self.transport.close()

    def _cancel_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None


def uvicorn_options(settings: ApiSettings) -> dict[str, Any]:
    """Keyword arguments of `uvicorn.run` that bound the listener."""
    return {
        "http": f"{BoundedHttpToolsProtocol.__module__}:{BoundedHttpToolsProtocol.__name__}",
        "ws": "none",
        "timeout_keep_alive": settings.idle_timeout_seconds,
        "limit_concurrency": settings.max_connections,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        **_proxies(settings.forwarded_allow_ips),
    }


def _proxies(allowed: str) -> dict[str, Any]:
    trusted = [part.strip() for part in allowed.split(",") if part.strip()]
    if not trusted:
        return {"proxy_headers": False, "forwarded_allow_ips": []}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}
