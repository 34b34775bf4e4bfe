"""Prometheus `/metrics` for the API: a request latency histogram by method, route template
and status class, and requests in flight. One registry per app (tests build many apps).

The measuring middleware is plain ASGI (no BaseHTTPMiddleware task and body streaming per
request), so it costs the verification hot path almost nothing."""

from __future__ import annotations

import time

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["install_metrics"]

BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Measure:
    def __init__(self, app: ASGIApp, *, latency: Histogram, in_flight: Gauge) -> None:
        self.app = app
        self.latency = latency
        self.in_flight = in_flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.in_flight.inc()
        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.in_flight.dec()
            # FastAPI records the matched route in the scope while routing, so
            # /01/{gtin}/21/{serial} is one series whatever the serial.
            route = str(getattr(scope.get("route"), "path", "unmatched"))
            self.latency.labels(scope["method"], route, f"{status // 100}xx").observe(
                time.perf_counter() - started
            )


def install_metrics(app: FastAPI) -> None:
    registry = CollectorRegistry(auto_describe=True)
    latency = Histogram(
        "medledger_api_request_seconds",
        "API request latency, from the request to the end of the response.",
        ("method", "route", "status"),
        buckets=BUCKETS,
        registry=registry,
    )
    in_flight = Gauge(
        "medledger_api_requests_in_flight", "Requests being handled.", registry=registry
    )
    app.add_middleware(_Measure, latency=latency, in_flight=in_flight)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
