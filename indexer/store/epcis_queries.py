"""EPCIS 2.0 named queries (`api_epcis_queries`) and their subscriptions' own state
(`api_epcis_query_subscriptions`, beside the `api_subscriptions` row of kind
"epcis.query" that the delivery worker leases, retries and dead-letters as any other).

`record_run` moves the cursor (never backwards) and the next due time in one
transaction, only while the caller holds the subscription's lease.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, case, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from medledger.indexer.store.tables import deliveries, epcis_queries, epcis_query_subscriptions
from medledger.indexer.store.tables import subscriptions as subs

__all__ = [
    "NamedQueryRow",
    "QuerySubscriptionRow",
    "add_query",
    "add_state",
    "get_query",
    "list_queries",
    "pending_delivery",
    "query_in_use",
    "record_run",
    "remove_query",
    "remove_state",
    "state_of",
    "states_of_query",
]


@dataclass(frozen=True, slots=True)
class NamedQueryRow:
    owner: str
    name: str
    params: dict[str, list[str]]
    created_by: str
    created_at: int


@dataclass(frozen=True, slots=True)
class QuerySubscriptionRow:
    subscription_id: str
    owner: str
    query_name: str
    stream: bool
    schedule: dict[str, str] | None
    report_if_empty: bool
    next_run_at: int


def add_query(engine: Engine, row: NamedQueryRow, *, limit: int) -> str:
    """ "added", "exists" (the owner has one of that name) or "limit"."""
    with engine.begin() as conn:
        count = conn.execute(
            select(func.count())
            .select_from(epcis_queries)
            .where(epcis_queries.c.owner == row.owner)
        ).scalar_one()
        if int(count) >= limit:
            return "limit"
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(epcis_queries).values(
                        owner=row.owner,
                        name=row.name,
                        params=json.dumps(row.params, sort_keys=True),
                        created_by=row.created_by,
                        created_at=row.created_at,
                    )
                )
        except IntegrityError:
            return "exists"
    return "added"


def _query(m: Any) -> NamedQueryRow:
    return NamedQueryRow(
        m["owner"], m["name"], json.loads(m["params"]), m["created_by"], int(m["created_at"])
    )


def get_query(engine: Engine, owner: str, name: str) -> NamedQueryRow | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(epcis_queries).where(
                epcis_queries.c.owner == owner, epcis_queries.c.name == name
            )
        ).first()
    return None if row is None else _query(row._mapping)


def list_queries(engine: Engine, owner: str) -> list[NamedQueryRow]:
    query = (
        select(epcis_queries).where(epcis_queries.c.owner == owner).order_by(epcis_queries.c.name)
    )
    with engine.connect() as conn:
        return [_query(r._mapping) for r in conn.execute(query)]


def query_in_use(engine: Engine, owner: str, name: str) -> bool:
    """Whether a live subscription runs the query `name` of `owner`."""
    t = epcis_query_subscriptions
    query = (
        select(func.count())
        .select_from(t.join(subs, subs.c.id == t.c.subscription_id))
        .where(t.c.owner == owner, t.c.query_name == name)
    )
    with engine.connect() as conn:
        return bool(conn.execute(query).scalar_one())


def remove_query(engine: Engine, owner: str, name: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            delete(epcis_queries).where(
                epcis_queries.c.owner == owner, epcis_queries.c.name == name
            )
        )


def add_state(engine: Engine, row: QuerySubscriptionRow) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(epcis_query_subscriptions).values(
                subscription_id=row.subscription_id,
                owner=row.owner,
                query_name=row.query_name,
                stream=row.stream,
                schedule=None if row.schedule is None else json.dumps(row.schedule),
                report_if_empty=row.report_if_empty,
                next_run_at=row.next_run_at,
            )
        )


def _state(m: Any) -> QuerySubscriptionRow:
    return QuerySubscriptionRow(
        m["subscription_id"],
        m["owner"],
        m["query_name"],
        bool(m["stream"]),
        None if m["schedule"] is None else json.loads(m["schedule"]),
        bool(m["report_if_empty"]),
        int(m["next_run_at"]),
    )


def state_of(engine: Engine, sub_id: str) -> QuerySubscriptionRow | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(epcis_query_subscriptions).where(
                epcis_query_subscriptions.c.subscription_id == sub_id
            )
        ).first()
    return None if row is None else _state(row._mapping)


def states_of_query(engine: Engine, owner: str, name: str) -> list[QuerySubscriptionRow]:
    t = epcis_query_subscriptions
    query = (
        select(t).where(t.c.owner == owner, t.c.query_name == name).order_by(t.c.subscription_id)
    )
    with engine.connect() as conn:
        return [_state(r._mapping) for r in conn.execute(query)]


def remove_state(engine: Engine, sub_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            delete(epcis_query_subscriptions).where(
                epcis_query_subscriptions.c.subscription_id == sub_id
            )
        )


def pending_delivery(engine: Engine, sub_id: str) -> tuple[int, int, int] | None:
    """The (seq, attempts, next attempt ms) of the subscription's delivery being retried."""
    with engine.connect() as conn:
        row = conn.execute(
            select(deliveries.c.seq, deliveries.c.attempts, deliveries.c.next_attempt_at)
            .where(deliveries.c.subscription_id == sub_id, deliveries.c.state == "pending")
            .order_by(deliveries.c.seq)
            .limit(1)
        ).first()
    return None if row is None else (int(row[0]), int(row[1]), int(row[2]))


def record_run(
    engine: Engine,
    sub_id: str,
    upto: int,
    *,
    owner: str,
    next_run_at: int,
    status: int | None,
    attempts: int,
    now: int,
) -> bool:
    """A run up to seq `upto` is done (delivered with `status`, or nothing to send: None):
    the cursor moves to `upto` (never back) and the next due time to `next_run_at`, if
    `owner` still holds the lease."""
    with engine.begin() as conn:
        moved = conn.execute(
            update(subs)
            .where(subs.c.id == sub_id, subs.c.lease_owner == owner)
            .values(cursor=case((subs.c.cursor < upto, upto), else_=subs.c.cursor))
        ).rowcount
        if not moved:
            return False
        conn.execute(
            update(epcis_query_subscriptions)
            .where(epcis_query_subscriptions.c.subscription_id == sub_id)
            .values(next_run_at=next_run_at)
        )
        if status is not None:
            key = and_(deliveries.c.subscription_id == sub_id, deliveries.c.seq == upto)
            values = {
                "attempts": attempts,
                "next_attempt_at": 0,
                "last_status": status,
                "last_error": None,
                "state": "delivered",
                "updated_at": now,
            }
            if not conn.execute(update(deliveries).where(key).values(**values)).rowcount:
                if attempts > 1:
                    conn.execute(
                        insert(deliveries).values(subscription_id=sub_id, seq=upto, **values)
                    )
    return True
