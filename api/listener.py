"""The API's HTTP listener: uvicorn's h11 protocol with a deadline for a request's headers.

uvicorn closes a keep-alive connection that stays idle `timeout_keep_alive` seconds after a
response, and its h11 protocol cancels that timer only once the next request's headers are
complete, so later requests on a connection already have a header deadline. The first
request has none: a client that connects and sends nothing, or drips its headers a byte at
a time, holds the connection for ever. `HeaderDeadlineH11Protocol` gives the first request
the same deadline, counted from the connection's opening.

`uvicorn_options(settings)` is everything `api.serve` passes uvicorn to bound a listener:
the protocol above, the idle/header timeout, a cap on connections and concurrent requests
(more are answered 503), and the largest request head h11 buffers (more is a 400).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from api.settings import ApiSettings

__all__ = ["HeaderDeadlineH11Protocol", "uvicorn_options"]


class HeaderDeadlineH11Protocol(H11Protocol):
    """Closes a connection whose first request's headers are not complete within
    `config.timeout_keep_alive` seconds of its opening."""

    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_deadline = self.loop.call_later(
            self.timeout_keep_alive, self._headers_too_late
        )

    def _headers_too_late(self) -> None:
        self._header_deadline = None
        if self.cycle is None and not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None
        super().connection_lost(exc)


def uvicorn_options(settings: ApiSettings) -> dict[str, Any]:
    """Keyword arguments of `uvicorn.run` that bound the listener."""
    return {
        "http": f"{HeaderDeadlineH11Protocol.__module__}:{HeaderDeadlineH11Protocol.__name__}",
        "timeout_keep_alive": settings.idle_timeout_seconds,
        "limit_concurrency": settings.max_connections,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
    }
