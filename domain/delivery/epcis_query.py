"""Delivery of EPCIS query subscriptions (`domain.epcis_queries`), a step of the delivery
worker for subscriptions of kind "epcis.query".

A run covers the ledger events after the cursor up to a bound `upto` (a stream: the newest
event its owner may see; a schedule, once due: the newest event of the ledger). The query
runner — the API's EPCIS query, handed in by the composition root since the domain cannot
import it — answers the named query among those events, through the owner's entitlement
now; a non-empty answer (or an empty one with `reportIfEmpty`) is POSTed as an
EPCISQueryDocument with the webhook's signature headers. The cursor moves to `upto` only
on a 2xx (or when there is nothing to send); a failure is retried for the same bound with
the worker's backoff and dead-lettered like any event delivery. The `MedLedger-Event-Id`
is stable across the retries of one run.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from medledger.domain.auth import Member
from medledger.domain.delivery import webhook
from medledger.domain.epcis_schedule import QuerySchedule, next_run
from medledger.domain.events import MAX_EVENTS, EventFilter, read_events
from medledger.domain.services import Services
from medledger.domain.subscriptions import secret_of
from medledger.indexer.queries.events import last_seq
from medledger.indexer.store import epcis_queries as store
from medledger.indexer.store import subscriptions as rows
from medledger.indexer.store.subscriptions import SubscriptionRow

__all__ = ["QueryDelivery", "QueryRunner"]

log = logging.getLogger(__name__)


class QueryRunner(Protocol):
    """The EPCIS query behind the subscriptions (`api.epcis.query_runner`)."""

    def events(
        self, conn: Connection, member: Member, params: dict[str, list[str]], after: int, upto: int
    ) -> list[dict[str, Any]]:
        """The query's EPCIS events among the ledger events in (after, upto] `member` may
        see, oldest first."""
        ...

    def document(
        self, events: list[dict[str, Any]], *, subscription_id: str, query_name: str, now: int
    ) -> dict[str, Any]:
        """The EPCISQueryDocument delivering `events`."""
        ...


def _now_ms() -> int:
    return int(time.time() * 1000)


class QueryDelivery:
    """One run of an EPCIS query subscription at a time; the worker holds its lease."""

    def __init__(
        self,
        services: Services,
        runner: QueryRunner,
        *,
        store_engine: Engine,
        sender: webhook.Sender,
        lease_owner: str,
        member_of: Callable[[Connection, str], Member | None],
        retry: Callable[[int], tuple[float, bool]],
    ) -> None:
        self.services = services
        self.runner = runner
        self._store = store_engine
        self._sender = sender
        self._owner = lease_owner
        self._member_of = member_of
        self._retry = retry  # attempts so far -> (seconds to wait, dead-letter now)

    def deliver(self, sub: SubscriptionRow) -> int:
        """Run the subscription if due; the number of requests sent (0 or 1)."""
        state = store.state_of(self._store, sub.id)
        query = None if state is None else store.get_query(self._store, sub.owner, state.query_name)
        if state is None or query is None:
            return 0
        now = int(time.time())
        pending = store.pending_delivery(self._store, sub.id)
        attempts = 0
        with self.services.engine.connect() as conn:
            member = self._member_of(conn, sub.owner)
            if member is None:
                return 0
            if pending is not None:
                upto, attempts, next_at = pending
                if next_at > _now_ms():
                    return 0
            elif state.stream:
                newest = self._newest_visible(conn, member, sub.cursor)
                if newest is None:
                    return 0
                upto = newest
            else:
                if now < state.next_run_at:
                    return 0
                upto = max(sub.cursor, last_seq(conn))
            events = self.runner.events(conn, member, query.params, sub.cursor, upto)
        schedule = None if state.schedule is None else QuerySchedule(**state.schedule)
        following = 0 if schedule is None else next_run(schedule, now) or 2**62
        if not events and not (schedule is not None and state.report_if_empty):
            store.record_run(
                self._store,
                sub.id,
                upto,
                owner=self._owner,
                next_run_at=following,
                status=None,
                attempts=0,
                now=now,
            )
            return 0
        document = self.runner.document(
            events, subscription_id=sub.id, query_name=state.query_name, now=now
        )
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        event_id = f"{sub.id}:{upto}:{state.next_run_at}"
        outcome = self._sender.post(
            sub.url,
            event_id=event_id,
            secret=secret_of(self.services, sub),
            body=body,
        )
        attempts += 1
        if outcome.ok:
            store.record_run(
                self._store,
                sub.id,
                upto,
                owner=self._owner,
                next_run_at=following,
                status=outcome.status or 200,
                attempts=attempts,
                now=now,
            )
            return 1
        delay, dead = self._retry(attempts)
        rows.record_failure(
            self._store,
            sub.id,
            upto,
            attempts=attempts,
            status=outcome.status,
            error=outcome.error,
            next_attempt_ms=_now_ms() + int(delay * 1000),
            dead=dead,
            now=now,
        )
        if dead:
            log.warning("EPCIS query subscription %s suspended: run to %s dead", sub.id, upto)
        return 1

    def _newest_visible(self, conn: Connection, member: Member, after: int) -> int | None:
        """The seq of the newest of the next `MAX_EVENTS` ledger events after `after` that
        `member` may see (a run covers at most those)."""
        found = read_events(
            conn,
            chain_id=self.services.deployment.chain_id,
            member=member,
            after=after,
            filter=EventFilter(),
            limit=MAX_EVENTS,
        )
        return found[-1].seq if found else None
