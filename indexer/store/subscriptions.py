"""Webhook subscriptions (`api_subscriptions`) and their deliveries (`api_deliveries`):
the rows `domain.subscriptions` manages and `domain.delivery` works through.

The cursor of a subscription moves only in `record_success`, in the same transaction that
marks the delivery delivered; a lease (`claim`) keeps a subscription to one delivering
process at a time; `record_failure` dead-letters the delivery and suspends the
subscription in one transaction once its attempts are spent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Engine,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Row

from medledger.indexer.store.tables import deliveries, epcis_query_subscriptions, subscriptions

__all__ = [
    "DeliveryRow",
    "SubscriptionRow",
    "add_subscription",
    "claim",
    "count_of",
    "deliveries_of",
    "delivery",
    "due_subscriptions",
    "get_subscription",
    "list_subscriptions",
    "record_failure",
    "record_success",
    "release",
    "remove_subscription",
    "replay",
    "set_secret",
    "set_status",
    "skip",
    "worker_engine",
]


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    id: str
    owner: str
    created_by: str
    kind: str
    kinds: list[str]
    filter: dict[str, Any]
    url: str
    secret_nonce: bytes
    secret_ciphertext: bytes
    status: str
    cursor: int
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    subscription_id: str
    seq: int
    attempts: int
    next_attempt_at: int
    last_status: int | None
    last_error: str | None
    state: str
    updated_at: int


_SUB_COLUMNS = [subscriptions.c[f] for f in SubscriptionRow.__slots__]


def _sub(row: Row[Any]) -> SubscriptionRow:
    m = row._mapping
    return SubscriptionRow(
        m["id"],
        m["owner"],
        m["created_by"],
        m["kind"],
        json.loads(m["kinds"]),
        json.loads(m["filter"]),
        m["url"],
        bytes(m["secret_nonce"]),
        bytes(m["secret_ciphertext"]),
        m["status"],
        int(m["cursor"]),
        int(m["created_at"]),
        int(m["updated_at"]),
    )


def _delivery(row: Row[Any]) -> DeliveryRow:
    return DeliveryRow(**dict(row._mapping))


def count_of(engine: Engine, owner: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(subscriptions)
                .where(subscriptions.c.owner == owner)
            ).scalar_one()
        )


def add_subscription(engine: Engine, row: SubscriptionRow, *, limit: int) -> bool:
    """Insert `row`; False (nothing written) when its owner already has `limit`."""
    with engine.begin() as conn:
        count = conn.execute(
            select(func.count())
            .select_from(subscriptions)
            .where(subscriptions.c.owner == row.owner)
        ).scalar_one()
        if int(count) >= limit:
            return False
        values = {f: getattr(row, f) for f in SubscriptionRow.__slots__}
        values["kinds"] = json.dumps(row.kinds)
        values["filter"] = json.dumps(row.filter, sort_keys=True)
        conn.execute(insert(subscriptions).values(**values, lease_owner=None, lease_until=0))
    return True


def get_subscription(engine: Engine, sub_id: str, *, owner: str | None) -> SubscriptionRow | None:
    """The subscription `sub_id` of `owner` (None: of anyone)."""
    query = select(*_SUB_COLUMNS).where(subscriptions.c.id == sub_id)
    if owner is not None:
        query = query.where(subscriptions.c.owner == owner)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else _sub(row)


def list_subscriptions(engine: Engine, owner: str) -> list[SubscriptionRow]:
    query = (
        select(*_SUB_COLUMNS)
        .where(subscriptions.c.owner == owner)
        .order_by(subscriptions.c.created_at, subscriptions.c.id)
    )
    with engine.connect() as conn:
        return [_sub(r) for r in conn.execute(query)]


def set_status(engine: Engine, sub_id: str, status: str, *, now: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == sub_id)
            .values(status=status, updated_at=now)
        )


def set_secret(engine: Engine, sub_id: str, nonce: bytes, ciphertext: bytes, *, now: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == sub_id)
            .values(secret_nonce=nonce, secret_ciphertext=ciphertext, updated_at=now)
        )


def remove_subscription(engine: Engine, sub_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(deliveries).where(deliveries.c.subscription_id == sub_id))
        state = epcis_query_subscriptions.c.subscription_id == sub_id  # an EPCIS query's
        conn.execute(delete(epcis_query_subscriptions).where(state))
        conn.execute(delete(subscriptions).where(subscriptions.c.id == sub_id))


# ------------------------------------------------------------------ delivery


def worker_engine(engine: Engine) -> Engine:
    """An engine on the store's database for the delivery worker's writes. On SQLite its
    connections commit with synchronous=NORMAL (in WAL mode a kill -9 loses no commit; a
    power cut may lose the last cursor moves, whose events are then sent again: at least
    once, as promised), so a cursor move costs no fsync; elsewhere the store's engine."""
    if engine.dialect.name != "sqlite":
        return engine
    worker = create_engine(engine.url, connect_args={"timeout": 30})

    @event.listens_for(worker, "connect")
    def _pragmas(dbapi_conn: Any, _record: object) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return worker


def due_subscriptions(engine: Engine, *, now_ms: int, limit: int = 200) -> list[SubscriptionRow]:
    """Active subscriptions whose lease is free or lapsed."""
    query = (
        select(*_SUB_COLUMNS)
        .where(subscriptions.c.status == "active", subscriptions.c.lease_until < now_ms)
        .order_by(subscriptions.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [_sub(r) for r in conn.execute(query)]


def claim(engine: Engine, sub_id: str, owner: str, *, now_ms: int, lease_ms: int) -> bool:
    """Take (or extend) the lease of an active subscription for `owner`."""
    with engine.begin() as conn:
        done = conn.execute(
            update(subscriptions)
            .where(
                subscriptions.c.id == sub_id,
                subscriptions.c.status == "active",
                or_(subscriptions.c.lease_until < now_ms, subscriptions.c.lease_owner == owner),
            )
            .values(lease_owner=owner, lease_until=now_ms + lease_ms)
        )
    return bool(done.rowcount)


def release(engine: Engine, sub_id: str, owner: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(subscriptions)
            .where(subscriptions.c.id == sub_id, subscriptions.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=0)
        )


def delivery(engine: Engine, sub_id: str, seq: int) -> DeliveryRow | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(deliveries).where(
                deliveries.c.subscription_id == sub_id, deliveries.c.seq == seq
            )
        ).first()
    return None if row is None else _delivery(row)


def _upsert(conn: Any, sub_id: str, seq: int, values: dict[str, Any]) -> None:
    key = and_(deliveries.c.subscription_id == sub_id, deliveries.c.seq == seq)
    if not conn.execute(update(deliveries).where(key).values(**values)).rowcount:
        conn.execute(insert(deliveries).values(subscription_id=sub_id, seq=seq, **values))


# Built once: its cache key is then computed once, not per delivered event.
_MOVE_CURSOR = (
    update(subscriptions)
    .where(
        subscriptions.c.id == bindparam("b_sub_id"),
        subscriptions.c.lease_owner == bindparam("b_owner"),
        subscriptions.c.cursor < bindparam("b_seq"),
    )
    .values(cursor=bindparam("b_seq"))
)


def record_success(
    engine: Engine,
    sub_id: str,
    seq: int,
    *,
    attempts: int,
    status: int,
    now: int,
    owner: str,
    has_row: bool = True,
) -> bool:
    """Move the cursor to `seq`, if `owner` still holds the lease and the cursor is behind
    `seq` (else nothing: another process took over). A delivery that needed retries keeps
    its row (now delivered); one delivered at the first attempt is the cursor alone (one
    statement per event when the caller knows it has no row: `has_row=False`)."""
    with engine.begin() as conn:
        moved = conn.execute(
            _MOVE_CURSOR, {"b_sub_id": sub_id, "b_owner": owner, "b_seq": seq}
        ).rowcount
        if not moved:
            return False
        values: dict[str, Any] = {"attempts": attempts, "next_attempt_at": 0}
        values |= {
            "last_status": status,
            "last_error": None,
            "state": "delivered",
            "updated_at": now,
        }
        if attempts > 1:
            _upsert(conn, sub_id, seq, values)
        elif has_row:  # a replayed dead letter has a row at its first attempt again
            key = and_(deliveries.c.subscription_id == sub_id, deliveries.c.seq == seq)
            conn.execute(update(deliveries).where(key).values(**values))
    return True


def record_failure(
    engine: Engine,
    sub_id: str,
    seq: int,
    *,
    attempts: int,
    status: int | None,
    error: str,
    next_attempt_ms: int,
    dead: bool,
    now: int,
) -> None:
    """Note a failed attempt; `dead`: dead-letter it and suspend the subscription."""
    with engine.begin() as conn:
        _upsert(
            conn,
            sub_id,
            seq,
            {
                "attempts": attempts,
                "next_attempt_at": next_attempt_ms,
                "last_status": status,
                "last_error": error[:500],
                "state": "dead" if dead else "pending",
                "updated_at": now,
            },
        )
        if dead:
            conn.execute(
                update(subscriptions)
                .where(subscriptions.c.id == sub_id)
                .values(status="suspended", updated_at=now, lease_owner=None, lease_until=0)
            )


def deliveries_of(
    engine: Engine, sub_id: str, *, state: str | None = None, limit: int = 100
) -> list[DeliveryRow]:
    """Newest first."""
    query = select(deliveries).where(deliveries.c.subscription_id == sub_id)
    if state is not None:
        query = query.where(deliveries.c.state == state)
    query = query.order_by(deliveries.c.seq.desc()).limit(limit)
    with engine.connect() as conn:
        return [_delivery(r) for r in conn.execute(query)]


def replay(engine: Engine, sub_id: str, seq: int, *, now: int) -> bool:
    """A dead delivery back to pending (attempts reset), and its subscription active."""
    with engine.begin() as conn:
        done = conn.execute(
            update(deliveries)
            .where(
                deliveries.c.subscription_id == sub_id,
                deliveries.c.seq == seq,
                deliveries.c.state == "dead",
            )
            .values(state="pending", attempts=0, next_attempt_at=0, updated_at=now)
        ).rowcount
        if done:
            conn.execute(
                update(subscriptions)
                .where(subscriptions.c.id == sub_id)
                .values(status="active", updated_at=now)
            )
    return bool(done)


def skip(engine: Engine, sub_id: str, seq: int, *, now: int) -> bool:
    """Give up a dead delivery on purpose: the cursor passes it, the subscription resumes."""
    with engine.begin() as conn:
        done = conn.execute(
            update(deliveries)
            .where(
                deliveries.c.subscription_id == sub_id,
                deliveries.c.seq == seq,
                deliveries.c.state == "dead",
            )
            .values(state="skipped", updated_at=now)
        ).rowcount
        if done:
            conn.execute(
                update(subscriptions)
                .where(subscriptions.c.id == sub_id, subscriptions.c.cursor < seq)
                .values(cursor=seq)
            )
            conn.execute(
                update(subscriptions)
                .where(subscriptions.c.id == sub_id)
                .values(status="active", updated_at=now)
            )
    return bool(done)
