"""The delivery worker: a background thread of the API process that sends each active
subscription's events in seq order, one in flight per subscription.

A pass takes the subscriptions whose lease is free, claims each (a lease row in the store,
so two API processes never deliver one subscription at once), and sends its events after
its cursor, the owner's entitlement checked now (a member suspended on chain, or gone
from the read model, is sent nothing; `domain.events.read_events`). The cursor moves only
on a 2xx, in the transaction that records it; a failure is retried after a backoff with
full jitter (`base * 2**(attempt-1)`, capped), and after `max_attempts` the delivery is
dead-lettered and the subscription suspended, so order is never broken and nothing is
skipped silently. A kill -9 between a 2xx and its record sends that event again, with the
same `MedLedger-Event-Id` (at-least-once).
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection

from medledger.domain.auth import Member
from medledger.domain.delivery import webhook
from medledger.domain.delivery.epcis_query import QueryDelivery, QueryRunner
from medledger.domain.epcis_queries import KIND as EPCIS_QUERY
from medledger.domain.event_alerts import record_alert_events
from medledger.domain.events import (
    EventFilter,
    EventKind,
    LedgerEvent,
    event_json,
    event_names,
    read_events,
)
from medledger.domain.services import Services
from medledger.domain.store import api_store
from medledger.domain.subscriptions import REGULATOR_OWNER, secret_of
from medledger.indexer.queries.events import member_standing
from medledger.indexer.store import subscriptions as rows
from medledger.indexer.store.subscriptions import SubscriptionRow
from medledger.sdk.model import MemberStatus, Role

__all__ = ["DeliveryPolicy", "DeliveryWorker", "backoff", "ping", "subscriber"]

log = logging.getLogger(__name__)

# The derived alerts (`domain.event_alerts`): evaluated every ALERT_INTERVAL seconds over
# what happened since the last evaluation (less an overlap; their keys dedupe them).
ALERT_INTERVAL: Final = 5.0
ALERT_OVERLAP: Final = 120
ALERT_LOOKBACK: Final = 86400
BATCH: Final = 100


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    base_delay: float = 1.0
    max_delay: float = 600.0
    max_attempts: int = 12


def backoff(policy: DeliveryPolicy, attempts: int, rand: Callable[[], float]) -> float:
    """Seconds before the next attempt after `attempts` failures: full jitter."""
    return float(rand() * min(policy.max_delay, policy.base_delay * 2.0 ** (attempts - 1)))


def _now_ms() -> int:
    return int(time.time() * 1000)


class DeliveryWorker:
    """Delivers every subscription of this API's store; `start` runs passes in a thread."""

    def __init__(
        self, services: Services, *, threads: int = 4, query_runner: QueryRunner | None = None
    ) -> None:
        s = services.settings
        self.services = services
        self.policy = DeliveryPolicy(
            s.webhook_base_delay, s.webhook_max_delay, s.webhook_max_attempts
        )
        self.poll = s.webhook_poll_seconds
        self.lease_ms = int(s.webhook_lease_seconds * 1000)
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{os.urandom(4).hex()}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="medledger-webhook")
        self._sender = webhook.Sender()
        self._rand = random.SystemRandom().random
        self._store = rows.worker_engine(api_store(services).engine)
        # EPCIS query subscriptions need the API's query (None: they wait).
        self._queries = None
        if query_runner is not None:
            self._queries = QueryDelivery(
                services,
                query_runner,
                store_engine=self._store,
                sender=self._sender,
                lease_owner=self.owner,
                member_of=subscriber,
                retry=self._retry,
            )

    def _retry(self, attempts: int) -> tuple[float, bool]:
        return backoff(self.policy, attempts, self._rand), attempts >= self.policy.max_attempts

    # ------------------------------------------------------------ lifecycle

    def start(self) -> DeliveryWorker:
        self._thread = threading.Thread(target=self._run, name="medledger-webhooks", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._sender.close()
        if self._store is not api_store(self.services).engine:
            self._store.dispose()

    def _run(self) -> None:
        alerts_since, alerts_at = int(time.time()) - ALERT_LOOKBACK, 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() - alerts_at >= ALERT_INTERVAL:
                    now, alerts_at = int(time.time()), time.monotonic()  # even if it fails
                    record_alert_events(self.services, since=alerts_since)
                    alerts_since = now - ALERT_OVERLAP
                busy = self.run_once()
            except Exception:  # a pass must never end the worker: log, wait, retry
                log.exception("webhook delivery pass failed")
                busy = 0
            if not busy:
                self._stop.wait(self.poll)

    # ------------------------------------------------------------ a pass

    def run_once(self) -> int:
        """One pass over the due subscriptions; the number of requests sent."""
        engine = self._store
        due = rows.due_subscriptions(engine, now_ms=_now_ms())
        return sum(self._pool.map(self._deliver, due))

    def _deliver(self, sub: SubscriptionRow) -> int:
        engine = self._store
        if not rows.claim(engine, sub.id, self.owner, now_ms=_now_ms(), lease_ms=self.lease_ms):
            return 0
        try:
            if sub.kind == EPCIS_QUERY:
                return 0 if self._queries is None else self._queries.deliver(sub)
            return self._send_backlog(sub)
        finally:
            rows.release(engine, sub.id, self.owner)

    def _events(self, sub: SubscriptionRow) -> tuple[list[LedgerEvent], dict[str, str]]:
        """The next events the owner may see now, and the names they mention."""
        flt = EventFilter(kinds=tuple(EventKind(k) for k in sub.kinds), **sub.filter)
        with self.services.engine.connect() as conn:
            member = subscriber(conn, sub.owner)
            if member is None:
                return [], {}
            events = read_events(
                conn,
                chain_id=self.services.deployment.chain_id,
                member=member,
                after=sub.cursor,
                filter=flt,
                limit=BATCH,
            )
            return events, event_names(conn, events)

    def _send_backlog(self, sub: SubscriptionRow) -> int:
        engine = self._store
        events, names = self._events(sub)
        if not events:
            return 0
        secret = secret_of(self.services, sub)
        first = rows.delivery(engine, sub.id, events[0].seq)
        attempts = 0
        if first is not None and first.state == "pending":
            if first.next_attempt_at > _now_ms():
                return 0
            attempts = first.attempts
        sent = 0
        renewed = _now_ms()
        for event in events:
            if _now_ms() - renewed > self.lease_ms // 3:
                if not rows.claim(
                    engine, sub.id, self.owner, now_ms=_now_ms(), lease_ms=self.lease_ms
                ):
                    return sent
                renewed = _now_ms()
            wire = event_json(event, names)
            body = json.dumps(wire, ensure_ascii=False, separators=(",", ":")).encode()
            outcome = self._sender.post(sub.url, event_id=wire["id"], secret=secret, body=body)
            sent += 1
            attempts += 1
            now = int(time.time())
            if outcome.ok:
                status = outcome.status or 200
                if not rows.record_success(
                    engine,
                    sub.id,
                    event.seq,
                    attempts=attempts,
                    status=status,
                    now=now,
                    owner=self.owner,
                    has_row=first is not None and first.seq == event.seq,
                ):
                    return sent  # the lease was lost: another process carries on
                attempts = 0
                continue
            dead = attempts >= self.policy.max_attempts
            delay = backoff(self.policy, attempts, self._rand)
            rows.record_failure(
                engine,
                sub.id,
                event.seq,
                attempts=attempts,
                status=outcome.status,
                error=outcome.error,
                next_attempt_ms=_now_ms() + int(delay * 1000),
                dead=dead,
                now=now,
            )
            if dead:
                log.warning("subscription %s suspended: event %s dead-lettered", sub.id, event.seq)
            return sent
        return sent


def subscriber(conn: Connection, owner: str) -> Member | None:
    """Whom a subscription of `owner` reads as now: None for a member suspended on chain
    or gone from the read model (it is sent nothing)."""
    if owner == REGULATOR_OWNER:
        return Member(owner, Role.REGULATOR, None, "subscription")
    standing = member_standing(conn, owner)
    if standing is None or standing[1] != int(MemberStatus.ACTIVE):
        return None
    return Member(owner, Role(standing[0]), None, "subscription")


def ping(services: Services, sub: SubscriptionRow) -> webhook.Outcome:
    """Send a signed `ping` now (the route's test button); nothing is recorded."""
    body = json.dumps({"id": f"ping:{os.urandom(8).hex()}", "type": "ping"}).encode()
    sender = webhook.Sender()
    try:
        return sender.post(
            sub.url, event_id=json.loads(body)["id"], secret=secret_of(services, sub), body=body
        )
    finally:
        sender.close()
