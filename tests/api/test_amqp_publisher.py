"""The AMQP publisher against the machine's RabbitMQ: routing keys per entitled member
and for the regulator, message properties, publisher confirms moving the cursor, a nack
(a full queue that rejects publishes) and a connection the broker closes mid-stream, each
followed by a resend from the cursor, in order and without a gap."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path

import pika.exceptions
import pytest

from medledger.domain.delivery.amqp import AmqpPublisher, Outgoing, PublishRefused
from medledger.indexer.store.broker_cursor import load_broker_cursor, save_broker_cursor
from medledger.indexer.store.engine import ApiStore
from tests.api.amqp_env import Inbox, Received, VHost, vhost

__all__ = ["vhost"]

A = "0x" + "aB" * 20
B = "0x" + "12" * 20


def _events(count: int) -> list[Outgoing]:
    """Hand-made events: odd seqs for A and B (an inbound shipment), even ones for A only."""
    made = []
    for seq in range(1, count + 1):
        audience = (A, B) if seq % 2 else (A,)
        kind = "shipment.inbound" if seq % 2 else "recall.issued"
        body = {"id": f"31337:{seq}", "seq": seq, "type": kind, "data": {"名称": "髋关节假体"}}
        made.append(Outgoing(seq, f"31337:{seq}", kind, audience, body))
    return made


class Stream:
    """A source over a list, with a hook run before a chosen read."""

    def __init__(self, events: list[Outgoing]) -> None:
        self.events = events
        self.reads = 0
        self.before_read: dict[int, object] = {}

    def __call__(self, after: int, limit: int) -> Sequence[Outgoing]:
        self.reads += 1
        hook = self.before_read.pop(self.reads, None)
        if callable(hook):
            hook()
        return [e for e in self.events if e.seq > after][:limit]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ApiStore]:
    made = ApiStore(f"sqlite:///{tmp_path / 'api.db'}")
    yield made
    made.dispose()


def _publisher(vhost: VHost, store: ApiStore, stream: Stream, **kw: object) -> AmqpPublisher:
    exchange = "medledger.events"
    return AmqpPublisher(
        vhost.url(),
        stream,
        load_cursor=lambda: load_broker_cursor(store.engine, exchange),
        save_cursor=lambda seq: save_broker_cursor(store.engine, exchange, seq),
        **kw,  # type: ignore[arg-type]
    )


def _seqs(got: list[Received]) -> list[int]:
    return [int(m.message_id.split(":")[1]) for m in got]


def test_each_member_and_the_regulator_get_their_events_in_order_confirmed(
    vhost: VHost, store: ApiStore
) -> None:
    tag = secrets.token_hex(3)
    inbox_a = Inbox(vhost, f"member.{A.lower()}.{tag}", (f"member.{A.lower()}.#",))
    inbox_b = Inbox(vhost, f"member.{B}.{tag}", (f"member.{B}.#",))
    regulator = Inbox(vhost, f"regulator.{tag}", ("regulator.#",))
    publisher = _publisher(vhost, store, Stream(_events(9)), batch=4)
    try:
        assert publisher.publish_pending() == 9
        assert load_broker_cursor(store.engine, "medledger.events") == 9
        assert publisher.publish_pending() == 0  # nothing new: nothing sent again
    finally:
        publisher.close()
    assert _seqs(inbox_a.wait_for(9)) == list(range(1, 10))
    assert _seqs(inbox_b.wait_for(5)) == [1, 3, 5, 7, 9]
    assert _seqs(regulator.wait_for(9)) == list(range(1, 10))
    first = inbox_a.got[0]
    assert first.routing_key == f"member.{A.lower()}.shipment.inbound"
    assert inbox_a.got[1].routing_key == f"member.{A.lower()}.recall.issued"
    assert regulator.got[1].routing_key == "regulator.recall.issued"
    assert (first.content_type, first.delivery_mode) == ("application/json", 2)
    assert json.loads(first.body) == _events(1)[0].body
    for inbox in (inbox_a, inbox_b, regulator):
        inbox.close()


def test_a_nack_holds_the_cursor_and_the_rest_follows_in_order(
    vhost: VHost, store: ApiStore
) -> None:
    """A queue of at most 3 messages that rejects more: the broker nacks the 4th event."""
    tag = secrets.token_hex(3)
    full = Inbox(vhost, f"member.{B}.full-{tag}", ())
    full._channel.queue_delete(full.queue)
    full._channel.queue_declare(
        full.queue, durable=True, arguments={"x-max-length": 3, "x-overflow": "reject-publish"}
    )
    full._channel.queue_bind(full.queue, "medledger.events", routing_key=f"member.{B}.#")
    stream = Stream([e for e in _events(12) if B in e.audience])  # seqs 1, 3, …, 11
    publisher = _publisher(vhost, store, stream)
    try:
        with pytest.raises(PublishRefused, match="31337:7"):
            publisher.publish_pending()
        assert load_broker_cursor(store.engine, "medledger.events") == 5
        assert _seqs(full.wait_for(3)) == [1, 3, 5]
        assert publisher.publish_pending() == 3  # room again: 7, 9, 11 from the cursor
    finally:
        publisher.close()
    assert _seqs(full.wait_for(6)) == [1, 3, 5, 7, 9, 11]
    assert load_broker_cursor(store.engine, "medledger.events") == 11
    full.close()


def test_a_connection_the_broker_closes_is_reopened_and_resumed_from_the_cursor(
    vhost: VHost, store: ApiStore
) -> None:
    tag = secrets.token_hex(3)
    inbox = Inbox(vhost, f"regulator.closed-{tag}", ("regulator.#",))
    name = f"medledger-test-{tag}"
    stream = Stream(_events(20))
    stream.before_read[2] = lambda: _close_connection(vhost, name)  # after the first 5
    publisher = _publisher(vhost, store, stream, batch=5, connection_name=name)
    try:
        with pytest.raises(pika.exceptions.AMQPError):  # the broker closed the connection
            publisher.publish_pending()
        assert load_broker_cursor(store.engine, "medledger.events") == 5
        assert publisher.publish_pending() == 15
    finally:
        publisher.close()
    assert _seqs(inbox.wait_for(20)) == list(range(1, 21))
    inbox.close()


def _close_connection(vhost: VHost, name: str) -> None:
    """Close, on the broker, the one connection whose client named itself `name`."""
    listed = vhost.ctl(
        "list_connections", "--quiet", "--no-table-headers", "pid", "client_properties"
    )
    pids = [line.split("\t")[0] for line in listed.splitlines() if name in line]
    assert len(pids) == 1, listed
    vhost.ctl("close_connection", pids[0], "test: the broker goes away")
