"""Prometheus `/metrics` for the API: a request latency histogram by method, route template
and status class, and requests in flight. One registry per app (tests build many apps)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["install_metrics"]

BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _route_template(request: Request) -> str:
    """The matched route's path template (FastAPI records it in the scope while routing),
    so /01/{gtin}/21/{serial} is one series whatever the serial."""
    route = request.scope.get("route")
    return str(getattr(route, "path", "unmatched"))


def install_metrics(app: FastAPI) -> None:
    registry = CollectorRegistry(auto_describe=True)
    latency = Histogram(
        "medledger_api_request_seconds",
        "API request latency, from the first byte in to the response start.",
        ("method", "route", "status"),
        buckets=BUCKETS,
        registry=registry,
    )
    in_flight = Gauge(
        "medledger_api_requests_in_flight", "Requests being handled.", registry=registry
    )

    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        in_flight.inc()
        status = "5xx"
        try:
            response = await call_next(request)
            status = f"{response.status_code // 100}xx"
            return response
        finally:
            in_flight.dec()
            route = _route_template(request)
            latency.labels(request.method, route, status).observe(time.perf_counter() - started)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
