"""Requests sent with an Idempotency-Key (`api_idempotency`): per principal and key, the
request's fingerprint, a lease while it runs and then its sealed first answer.

A row is claimed by one request at a time (its `owner`): a new key is an INSERT (of two
concurrent ones the second loses at the primary key); a row whose lease ran out (its
request died mid-way) or whose answer expired is taken over by a conditional UPDATE, so
of two retries racing for it exactly one wins. Only the owner completes or drops its row.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from medledger.indexer.store.tables import idempotency

__all__ = ["KeyedRequest", "claim", "complete", "drop", "prune"]


@dataclass(frozen=True, slots=True)
class KeyedRequest:
    """A stored row as another request finds it."""

    fingerprint: bytes
    lease_until: int
    status: int | None  # None while the first request runs
    nonce: bytes | None
    answer: bytes | None  # None while running, or when the answer was too large to keep


def claim(
    engine: Engine,
    *,
    principal: str,
    key: str,
    fingerprint: bytes,
    owner: str,
    now: int,
    lease_until: int,
    expires_at: int,
) -> KeyedRequest | None:
    """Claim `key` for the request `owner`: None when it is ours to run (new, or taken over
    from a dead request with the same fingerprint, or from an expired row), else the row
    that holds it. Times are milliseconds since the epoch."""
    mine = {"owner": owner, "lease_until": lease_until, "expires_at": expires_at}
    where = and_(idempotency.c.principal == principal, idempotency.c.key == key)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(idempotency).values(
                    principal=principal, key=key, fingerprint=fingerprint, **mine
                )
            )
        return None
    except IntegrityError:
        pass
    expired = idempotency.c.expires_at < now
    abandoned = and_(
        idempotency.c.status.is_(None),
        idempotency.c.lease_until < now,
        idempotency.c.fingerprint == fingerprint,
    )
    with engine.begin() as conn:
        taken = conn.execute(
            update(idempotency)
            .where(where, or_(expired, abandoned))
            .values(fingerprint=fingerprint, status=None, nonce=None, answer=None, **mine)
        )
        if taken.rowcount == 1:
            return None
        row = conn.execute(
            select(
                idempotency.c.fingerprint,
                idempotency.c.lease_until,
                idempotency.c.status,
                idempotency.c.nonce,
                idempotency.c.answer,
            ).where(where)
        ).one_or_none()
    if row is None:  # pruned in between: claim it afresh
        return claim(
            engine, principal=principal, key=key, fingerprint=fingerprint, owner=owner,
            now=now, lease_until=lease_until, expires_at=expires_at,
        )  # fmt: skip
    return KeyedRequest(row.fingerprint, row.lease_until, row.status, row.nonce, row.answer)


def complete(
    engine: Engine,
    *,
    principal: str,
    key: str,
    owner: str,
    status: int,
    nonce: bytes | None,
    answer: bytes | None,
) -> bool:
    """Keep the answer of the request `owner`; False if it no longer holds the key."""
    with engine.begin() as conn:
        done = conn.execute(
            update(idempotency)
            .where(
                idempotency.c.principal == principal,
                idempotency.c.key == key,
                idempotency.c.owner == owner,
                idempotency.c.status.is_(None),
            )
            .values(status=status, nonce=nonce, answer=answer)
        )
    return bool(done.rowcount == 1)


def drop(engine: Engine, *, principal: str, key: str, owner: str) -> None:
    """Forget the key the request `owner` holds (its answer is not kept: a retry runs)."""
    with engine.begin() as conn:
        conn.execute(
            delete(idempotency).where(
                idempotency.c.principal == principal,
                idempotency.c.key == key,
                idempotency.c.owner == owner,
                idempotency.c.status.is_(None),
            )
        )


def prune(engine: Engine, *, now: int) -> int:
    """Delete the rows expired before `now` (ms); returns how many."""
    with engine.begin() as conn:
        gone = conn.execute(delete(idempotency).where(idempotency.c.expires_at < now))
    return int(gone.rowcount)
