"""The publisher's background worker (`AmqpPublishing`) against the machine's RabbitMQ: a
broker that refuses it at first (its user has no permission on the virtual host) is
retried with backoff and the stream then published from the start; two workers of one API (one lock
file) publish each event once, not twice."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from medledger.domain.delivery.amqp import AmqpPublisher
from medledger.domain.delivery.amqp_worker import AmqpPublishing
from medledger.indexer.store.broker_cursor import load_broker_cursor, save_broker_cursor
from medledger.indexer.store.engine import ApiStore
from tests.api.amqp_env import Inbox, VHost, vhost
from tests.api.test_amqp_publisher import Stream, _events, _seqs

__all__ = ["vhost"]


def _worker(url: str, store: ApiStore, stream: Stream, lock: Path) -> AmqpPublishing:
    publisher = AmqpPublisher(
        url,
        stream,
        load_cursor=lambda: load_broker_cursor(store.engine, "medledger.events"),
        save_cursor=lambda seq: save_broker_cursor(store.engine, "medledger.events", seq),
    )
    return AmqpPublishing(publisher, interval=0.05, lock_path=lock)


def test_a_broker_that_refuses_at_first_is_retried_until_it_takes_the_stream(
    vhost: VHost, tmp_path: Path
) -> None:
    """The publisher's broker user loses its permissions on the virtual host (the broker
    refuses the connection) and gets them back a second later."""
    inbox = Inbox(vhost, f"regulator.late-{secrets.token_hex(3)}", ("regulator.#",))
    store = ApiStore(f"sqlite:///{tmp_path / 'api.db'}")
    vhost.ctl("clear_permissions", "-p", vhost.name, "guest")
    try:
        worker = _worker(vhost.url(), store, Stream(_events(5)), tmp_path / "amqp.lock")
        time.sleep(1.0)
        assert load_broker_cursor(store.engine, "medledger.events") == 0  # refused so far
    finally:
        vhost.ctl("set_permissions", "-p", vhost.name, "guest", ".*", ".*", ".*")
    try:
        assert _seqs(inbox.wait_for(5)) == [1, 2, 3, 4, 5]  # after a backoff of ≤ 1.6 s
        deadline = time.monotonic() + 10  # saved just after the last confirm
        while load_broker_cursor(store.engine, "medledger.events") != 5:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        worker.close()
        store.dispose()
        inbox.close()


def test_two_workers_of_one_api_publish_each_event_once(vhost: VHost, tmp_path: Path) -> None:
    inbox = Inbox(vhost, f"regulator.pair-{secrets.token_hex(3)}", ("regulator.#",))
    store = ApiStore(f"sqlite:///{tmp_path / 'api.db'}")
    stream = Stream(_events(30))
    lock = tmp_path / "amqp.lock"
    workers = [_worker(vhost.url(), store, stream, lock) for _ in range(2)]
    try:
        assert _seqs(inbox.wait_for(30)) == list(range(1, 31))
        time.sleep(0.5)  # a second publisher would have sent its copies by now
        assert _seqs(inbox.drain()) == list(range(1, 31))
    finally:
        for worker in workers:
            worker.close()
        store.dispose()
        inbox.close()
