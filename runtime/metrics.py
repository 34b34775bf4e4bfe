"""`/healthz` and Prometheus `/metrics` for processes that are not FastAPI apps.

- `gauge_registry(help_by_name, read)`: a registry whose gauges are read from `read()` at
  scrape time (no state kept between scrapes, no global registry);
- `http_answer(path, registry=…, health=…)`: the (status, content type, body) for
  `/healthz` (JSON of `health()`) and `/metrics`, or None for other paths: the node's RPC
  server calls this from its GET handler;
- `HealthServer`: a tiny threaded HTTP server serving just those two paths (the indexer).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["HealthServer", "gauge_registry", "http_answer"]

Answer = tuple[int, str, bytes]


class _CallbackGauges(Collector):
    def __init__(
        self, help_by_name: Mapping[str, str], read: Callable[[], Mapping[str, float]]
    ) -> None:
        self._help = dict(help_by_name)
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        values = self._read()
        for name, text in self._help.items():
            if name in values:
                yield GaugeMetricFamily(name, text, value=float(values[name]))


def gauge_registry(
    help_by_name: Mapping[str, str], read: Callable[[], Mapping[str, float]]
) -> CollectorRegistry:
    """A registry of gauges named in `help_by_name`, valued by `read()` at each scrape
    (a name missing from its answer is left out of that scrape)."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_CallbackGauges(help_by_name, read))
    return registry


def http_answer(
    path: str, *, registry: CollectorRegistry, health: Callable[[], dict[str, Any]]
) -> Answer | None:
    route = path.split("?", 1)[0]
    if route == "/healthz":
        return 200, "application/json", json.dumps(health()).encode()
    if route == "/metrics":
        return 200, CONTENT_TYPE_LATEST, generate_latest(registry)
    return None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        try:
            server = self.server
            answer = http_answer(self.path, registry=server.registry, health=server.health)
        except Exception as exc:  # a failing probe is a 503 with the reason, not a dead thread
            body = json.dumps({"status": "error", "error": str(exc)}).encode()
            answer = 503, "application/json", body
        status, content_type, body = answer or (404, "application/json", b'{"error":"not found"}')
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        registry: CollectorRegistry,
        health: Callable[[], dict[str, Any]],
    ) -> None:
        self.registry = registry
        self.health = health
        super().__init__(address, _Handler)


class HealthServer:
    """Serves `/healthz` and `/metrics` on `host:port` from a daemon thread."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        registry: CollectorRegistry,
        health: Callable[[], dict[str, Any]],
    ) -> None:
        self._server = _Server((host, port), registry, health)
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health-server", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
