"""`medledger bench amqp`: how fast the AMQP publisher moves events to the broker with
publisher confirms (each message acked before the next; the cursor saved as in the API).
Synthetic events (two entitled members each, so three messages an event) in a fresh
virtual host that is deleted afterwards; prints a JSON line last."""

from __future__ import annotations

import json
import secrets
import time
from urllib.parse import quote

from medledger.domain.delivery.amqp import AmqpPublisher, Outgoing
from medledger.ops.broker_provision import RabbitCtl

__all__ = ["run_amqp_bench"]


def _events(count: int) -> list[Outgoing]:
    audience = ("0x" + "ab" * 20, "0x" + "cd" * 20)
    return [
        Outgoing(
            seq,
            f"0:{seq}",
            "shipment.inbound",
            audience,
            {"id": f"0:{seq}", "seq": seq, "type": "shipment.inbound", "subject": {}, "data": {}},
        )
        for seq in range(1, count + 1)
    ]


def run_amqp_bench(*, events: int, host: str = "127.0.0.1", port: int = 5672) -> dict[str, object]:
    ctl = RabbitCtl()
    vhost = f"medledger-bench-{secrets.token_hex(4)}"
    ctl("add_vhost", vhost)
    ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    stream = _events(events)
    cursor = [0]
    publisher = AmqpPublisher(
        f"amqp://guest:guest@{host}:{port}/{quote(vhost, safe='')}",
        lambda after, limit: stream[after : after + limit],
        load_cursor=lambda: cursor[0],
        save_cursor=lambda seq: cursor.__setitem__(0, seq),
    )
    try:
        started = time.perf_counter()
        published = publisher.publish_pending()
        seconds = time.perf_counter() - started
    finally:
        publisher.close()
        ctl("delete_vhost", vhost)
    result: dict[str, object] = {
        "bench": "amqp",
        "events": published,
        "messages": 3 * published,
        "seconds": round(seconds, 3),
        "events_per_s": round(published / seconds, 1),
        "messages_per_s": round(3 * published / seconds, 1),
    }
    print(json.dumps(result))
    return result
