"""`medledger demo erp`: a small ERP stand-in, the reference integration of issue #17.

It listens on HOST:PORT, subscribes itself to `shipment.inbound` with its member's own API
key, verifies each request's signature (and refuses one outside the replay window),
drops repeats by `MedLedger-Event-Id` (delivery is at least once), answers 204 at once,
and then receives each inbound shipment addressed to it through
`POST /v1/partner/shipments/{id}/receive` with the same key. It prints one JSON line per
event and per receipt, and deletes its subscription when stopped.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

import httpx

from medledger.domain.delivery.webhook import verify

__all__ = ["Erp", "start_erp"]

MAX_BODY: Final = 256 * 1024
STORAGE: Final = {"temp_min": 50, "temp_max": 80}  # tenths of a degree: 5.0 .. 8.0 C


@dataclass
class Erp:
    """A running stand-in: `server`, its subscription, what it saw and what it received."""

    api: str
    key: str
    server: ThreadingHTTPServer
    echo: Callable[[str], None]
    subscription: str = ""
    secret: str = ""
    seen: set[str] = field(default_factory=set)
    received: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    work: queue.Queue[int | None] = field(default_factory=queue.Queue)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/events"

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.api, headers={"X-API-Key": self.key}, timeout=30, trust_env=False
        )

    def subscribe(self) -> None:
        with self._client() as client:
            answer = client.post(
                "/v1/partner/subscriptions", json={"url": self.url, "kinds": ["shipment.inbound"]}
            )
        answer.raise_for_status()
        body = answer.json()
        self.subscription, self.secret = body["id"], body["secret"]
        self.echo(json.dumps({"subscribed": self.subscription, "url": self.url}))

    def event(self, headers: dict[str, str], body: bytes) -> int:
        """The status to answer a delivery with; queues an inbound shipment's receipt."""
        if not verify(self.secret, headers.get("medledger-signature", ""), body):
            return 401
        event: dict[str, Any] = json.loads(body)
        with self.lock:
            if event["id"] in self.seen:
                return 204  # a repeat of an acknowledged event: already handled
            self.seen.add(event["id"])
        self.echo(json.dumps({"event": event["id"], "type": event["type"], **event["subject"]}))
        if event["type"] == "shipment.inbound":
            self.work.put(int(event["subject"]["shipment_id"]))
        return 204

    def _receive_loop(self) -> None:
        with self._client() as client:
            while (shipment := self.work.get()) is not None:
                answer = client.post(f"/v1/partner/shipments/{shipment}/receive", json=STORAGE)
                line = {"received": shipment, "status": answer.status_code}
                if answer.status_code == 200:
                    with self.lock:
                        self.received.append(shipment)
                else:
                    line["problem"] = answer.json().get("code", "")
                self.echo(json.dumps(line))

    def close(self) -> None:
        self.work.put(None)
        self.server.shutdown()
        self.server.server_close()
        if self.subscription:
            with self._client() as client:
                client.delete(f"/v1/partner/subscriptions/{self.subscription}")


def start_erp(
    api: str, key: str, host: str, port: int, *, echo: Callable[[str], None] = print
) -> Erp:
    """Listen, subscribe and start receiving; `close()` stops and unsubscribes."""
    erp: Erp

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length", "0"))
            if self.path != "/events" or not 0 < length <= MAX_BODY:
                self.send_response(404 if self.path != "/events" else 413)
                self.end_headers()
                return
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            self.send_response(erp.event(headers, body))
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    erp = Erp(api.rstrip("/"), key, ThreadingHTTPServer((host, port), Handler), echo)
    threading.Thread(target=erp.server.serve_forever, name="erp-http", daemon=True).start()
    threading.Thread(target=erp._receive_loop, name="erp-receive", daemon=True).start()
    try:
        erp.subscribe()
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        erp.close()
        print(f"error: cannot subscribe at {api}: {exc}", file=sys.stderr)
        raise
    return erp
