"""The AMQP binding's source and its start in the API process: the outbox read in seq
order over every event (the regulator's view), each with the addresses of the members
entitled to it (`ledger_event_audience`) and its wire shape (`event_json`, names beside
addresses). `start_amqp_publishing(services)` runs `AmqpPublisher` in the background when
`settings.amqp_url` is set (None otherwise: the embedded default needs no broker); its
cursor is a row of the API's store."""

from __future__ import annotations

from collections.abc import Sequence

from medledger.domain.auth import Member
from medledger.domain.delivery.amqp import AmqpPublisher, Outgoing, Source
from medledger.domain.delivery.amqp_worker import AmqpPublishing
from medledger.domain.events import EventFilter, event_json, event_names, read_events
from medledger.domain.services import Services
from medledger.domain.store import api_store
from medledger.indexer.queries.event_feed import audience_addresses
from medledger.indexer.store.broker_cursor import load_broker_cursor, save_broker_cursor
from medledger.sdk.model import Role

__all__ = ["publisher_for", "start_amqp_publishing", "stream_source"]

# The publisher reads the whole stream, as the regulator may; entitlement is applied per
# message by routing key (one per entitled member).
_EVERYTHING = Member(address="", role=Role.REGULATOR, organisation=None, method="publisher")


def stream_source(services: Services) -> Source:
    def read(after: int, limit: int) -> Sequence[Outgoing]:
        with services.engine.connect() as conn:
            events = read_events(
                conn,
                chain_id=services.deployment.chain_id,
                member=_EVERYTHING,
                after=after,
                filter=EventFilter(),
                limit=limit,
            )
            if not events:
                return []
            audience = audience_addresses(conn, events[0].seq, events[-1].seq)
            names = event_names(conn, events)
        return [
            Outgoing(
                e.seq,
                f"{e.chain_id}:{e.seq}",
                e.kind,
                tuple(audience.get(e.seq, ())),
                event_json(e, names),
            )
            for e in events
        ]

    return read


def publisher_for(services: Services, url: str) -> AmqpPublisher:
    settings = services.settings
    store = api_store(services)
    exchange = settings.amqp_exchange
    return AmqpPublisher(
        url,
        stream_source(services),
        load_cursor=lambda: load_broker_cursor(store.engine, exchange),
        save_cursor=lambda seq: save_broker_cursor(store.engine, exchange, seq),
        exchange=exchange,
    )


def start_amqp_publishing(services: Services) -> AmqpPublishing | None:
    settings = services.settings
    if settings.amqp_url is None:
        return None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return AmqpPublishing(
        publisher_for(services, settings.amqp_url.get_secret_value()),
        interval=settings.amqp_poll_seconds,
        lock_path=settings.data_dir / "amqp-publish.lock",
    )
