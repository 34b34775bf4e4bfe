"""The event stream on an AMQP 0-9-1 broker: one durable topic exchange
(`medledger.events`), one persistent message per entitled member (routing key
`member.<address lower>.<event type>`) and one for the regulator
(`regulator.<event type>`), each with `message_id` = the event id (`<chain id>:<seq>`),
content type `application/json` and the body `event_json(event)`.

Publisher confirms: the channel is in confirm mode and every publish waits for the
broker's ack; the cursor (`indexer.store.broker_cursor`, per exchange) moves past an
event only once all its messages are confirmed. A nack, a closed channel or a lost
connection closes the connection; the next round reconnects (with backoff, in
`AmqpPublishing`) and publishes again from the cursor, in order. Delivery is therefore
at least once, never out of order; a consumer drops a `message_id` it has seen.

Messages are not `mandatory`: a routing key no queue is bound to (a member that
provisioned no queue) is dropped by the broker by design, like any topic subscription;
`medledger broker provision` binds a durable queue for the member so nothing is lost
while its consumer is away.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

__all__ = [
    "EXCHANGE",
    "AmqpPublisher",
    "Outgoing",
    "PublishRefused",
    "Source",
    "member_routing_key",
    "regulator_routing_key",
]

log = logging.getLogger(__name__)

EXCHANGE = "medledger.events"
# How many events one round reads from the stream before it saves the cursor.
BATCH = 200
# How many confirmed events at most go unsaved within a batch.
SAVE_EVERY = 20
_CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One event as it goes out: its stream position, id, type, the members entitled to
    it (addresses, any case) and its JSON body."""

    seq: int
    event_id: str
    type: str
    audience: tuple[str, ...]
    body: dict[str, object]

    def routing_keys(self) -> list[str]:
        members = sorted({a.lower() for a in self.audience})
        keys = [member_routing_key(a, self.type) for a in members]
        return [*keys, regulator_routing_key(self.type)]


Source = Callable[[int, int], Sequence[Outgoing]]
"""The stream: `source(after_seq, limit)` gives the events after `after_seq`, by seq."""


def member_routing_key(address: str, event_type: str) -> str:
    return f"member.{address.lower()}.{event_type}"


def regulator_routing_key(event_type: str) -> str:
    return f"regulator.{event_type}"


class PublishRefused(Exception):
    """The broker nacked a message (or the channel closed under it)."""


class AmqpPublisher:
    """Publishes the stream after the saved cursor; `publish_pending()` is one round."""

    def __init__(
        self,
        url: str,
        source: Source,
        *,
        load_cursor: Callable[[], int],
        save_cursor: Callable[[int], None],
        exchange: str = EXCHANGE,
        batch: int = BATCH,
        connection_name: str = "medledger-publisher",
    ) -> None:
        self._params = pika.URLParameters(url)
        self._params.client_properties = {"connection_name": connection_name}
        self._params.socket_timeout = _CONNECT_TIMEOUT
        self._params.blocked_connection_timeout = 30
        self._source = source
        self._load = load_cursor
        self._save = save_cursor
        self.exchange = exchange
        self._batch = batch
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def _open(self) -> BlockingChannel:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self.close()
        self._connection = pika.BlockingConnection(self._params)
        channel = self._connection.channel()
        channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        channel.confirm_delivery()
        self._channel = channel
        return channel

    def publish_pending(self) -> int:
        """Publish every event after the cursor, in order, each confirmed before the cursor
        passes it; the number of events published. Broker trouble raises (the connection
        is closed; the next round reconnects and starts again from the cursor)."""
        published = 0
        while True:
            after = self._load()
            events = self._source(after, self._batch)
            if not events:
                return published
            confirmed = saved = after
            try:
                channel = self._open()
                for number, event in enumerate(events, 1):
                    self._publish(channel, event)
                    confirmed = event.seq
                    if number % SAVE_EVERY == 0:  # fewer repeats after a kill -9
                        self._save(confirmed)
                        saved = confirmed
            except (pika.exceptions.AMQPError, PublishRefused):
                self.close()
                raise
            finally:
                if confirmed > saved:
                    self._save(confirmed)
            published += len(events)
            if len(events) < self._batch:
                return published

    def _publish(self, channel: BlockingChannel, event: Outgoing) -> None:
        """Every message of `event`, each confirmed by the broker before the next."""
        body = json.dumps(event.body, ensure_ascii=False, separators=(",", ":")).encode()
        properties = pika.BasicProperties(
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=event.event_id,
            type=event.type,
        )
        for key in event.routing_keys():
            try:
                channel.basic_publish(self.exchange, key, body, properties)
            except pika.exceptions.NackError as exc:
                raise PublishRefused(f"the broker refused {event.event_id} ({key})") from exc

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except pika.exceptions.AMQPError:  # it is going away anyway
                pass
