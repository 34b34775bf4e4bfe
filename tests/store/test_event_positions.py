"""The forward-only positions in the event stream (the AMQP publisher's cursor, each
portal user's read position), on SQLite and PostgreSQL: missing is 0, a lower seq never
moves one back, keys are independent."""

from __future__ import annotations

from medledger.indexer.store.broker_cursor import load_broker_cursor, save_broker_cursor
from medledger.indexer.store.engine import ApiStore
from medledger.indexer.store.notification_reads import mark_read_up_to, read_up_to
from tests.api import db_urls

url = db_urls.url


def test_positions_only_move_forward(url: str) -> None:
    store = ApiStore(url)
    engine = store.engine
    assert load_broker_cursor(engine, "medledger.events") == 0
    save_broker_cursor(engine, "medledger.events", 7)
    save_broker_cursor(engine, "medledger.events", 3)  # a stale save (an older worker)
    save_broker_cursor(engine, "other.exchange", 2)
    assert load_broker_cursor(engine, "medledger.events") == 7
    assert load_broker_cursor(engine, "other.exchange") == 2
    assert read_up_to(engine, "distributor-clerk") == 0
    mark_read_up_to(engine, "distributor-clerk", 12)
    mark_read_up_to(engine, "distributor-clerk", 12)
    mark_read_up_to(engine, "distributor-clerk", 4)
    mark_read_up_to(engine, "distributor-qa", 1)
    assert read_up_to(engine, "distributor-clerk") == 12
    assert read_up_to(engine, "distributor-qa") == 1
    store.dispose()
