"""`medledger bench webhooks`: event committed (its `ledger_events` row committed) →
receiver got it, at a configured event rate, through the real delivery worker and a real
HTTP receiver on loopback.

A writer thread commits one off-chain event per tick into a fresh read model (SQLite in a
temp directory, one member in the audience) at `rate` events/s for `seconds`, stamping the
commit time in the event; `subscriptions` subscriptions of that member each get every
event; the receiver (a `ThreadingHTTPServer`) notes when each arrives. No chain is
involved: what is measured is the outbox → worker → HTTP path.

The last printed line is `{"suite": "webhooks", "figures": {...}}`.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from medledger.domain.delivery.worker import DeliveryWorker
from medledger.domain.services import Services, load_platform_key
from medledger.domain.settings import ApiSettings
from medledger.domain.subscriptions import SubscriptionIn, create
from medledger.indexer.db import make_engine, migrate
from medledger.indexer.outbox import LedgerEventKind, NewEvent, write_event
from medledger.indexer.queries.bench import add_bench_member
from medledger.sdk.deploy import Deployment

__all__ = ["bench_webhooks"]

MEMBER = "0x" + "ab" * 20


def _receiver(arrivals: list[tuple[int, float]], lock: threading.Lock) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a production receiver would

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            at = time.time()
            event = json.loads(body)
            with lock:
                arrivals.append((int(event["seq"]), at - float(event["data"]["committed_at"])))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _services(workdir: Path) -> Services:
    db_url = f"sqlite:///{workdir / 'index.db'}"
    engine = make_engine(db_url)
    migrate(engine)
    with engine.begin() as conn:
        add_bench_member(conn, MEMBER, "Bench Distributor")
    settings = ApiSettings(
        db_url=db_url,
        data_dir=workdir / "api",
        master_key=SecretStr(os.urandom(32).hex()),
        webhook_allow_private_http=True,
        webhook_poll_seconds=0.01,
    )
    return Services(
        settings=settings,
        engine=engine,
        w3=None,  # type: ignore[arg-type]  # the worker never calls the chain
        deployment=Deployment(1, *(4 * ("0x" + "00" * 20,))),
        artifacts={},
        platform_key=load_platform_key(settings.data_dir / "platform-ed25519.pem"),
    )


def _write_events(services: Services, rate: float, seconds: float) -> int:
    """Commit events at `rate`/s for `seconds`; the count."""
    count, start = 0, time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate) + 1
        while count < due:
            with services.engine.begin() as conn:
                event = NewEvent(
                    LedgerEventKind.ALERT_SCAN_ANOMALY,
                    int(time.time()),
                    {"committed_at": 0.0},
                    gtin="06901234567892",
                )
                # The stamp is taken as late as possible: just before the commit.
                event.data["committed_at"] = time.time()
                write_event(conn, event, audience=[MEMBER])
            count += 1
        time.sleep(max(0.0, (count / rate) - (time.monotonic() - start)))
    return count


def bench_webhooks(
    *, rate: float, seconds: float, subscriptions: int, echo: Callable[[str], None]
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="medledger-bench-webhooks-") as tmp:
        services = _services(Path(tmp))
        arrivals: list[tuple[int, float]] = []
        lock = threading.Lock()
        server = _receiver(arrivals, lock)
        host, port = server.server_address[:2]
        for i in range(subscriptions):
            body = SubscriptionIn(
                url=f"http://{host!s}:{port}/s{i}", kinds=(LedgerEventKind.ALERT_SCAN_ANOMALY,)
            )
            create(services, owner=MEMBER, created_by="bench", body=body, cursor=0)
        worker = DeliveryWorker(services, threads=max(2, min(subscriptions, 8))).start()
        started = time.monotonic()
        written = _write_events(services, rate, seconds)
        expected = written * subscriptions
        deadline = time.monotonic() + 60
        while len(arrivals) < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        worker.close()
        server.shutdown()
        services.engine.dispose()
    latencies = sorted(ms * 1000 for _, ms in arrivals)
    p = (
        statistics.quantiles(latencies, n=100, method="inclusive")
        if len(latencies) >= 2
        else latencies * 99
    )
    figures = {
        "rate_target": rate,
        "events_written": written,
        "deliveries_expected": expected,
        "deliveries_received": len(arrivals),
        "deliveries_per_second": round(len(arrivals) / elapsed, 1),
        "latency_ms_p50": round(p[49], 1),
        "latency_ms_p99": round(p[98], 1),
        "latency_ms_max": round(latencies[-1], 1) if latencies else None,
        "subscriptions": subscriptions,
        "load_average": os.getloadavg()[0],
    }
    result = {"suite": "webhooks", "figures": figures}
    echo(json.dumps(result))
    return result
