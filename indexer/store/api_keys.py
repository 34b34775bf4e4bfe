"""API keys (`api_keys`): only a SHA-256 of each secret is kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Engine,
    LargeBinary,
    String,
    func,
    insert,
    literal,
    null,
    select,
    update,
)

from medledger.indexer.store.tables import api_keys

__all__ = ["ApiKeyRow", "KeySecret", "add_key_within_limits", "key_secret", "keys_of", "revoke_key"]


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    id: str
    label: str
    created_at: int
    revoked_at: int | None


@dataclass(frozen=True, slots=True)
class KeySecret:
    address: str
    secret_sha256: bytes
    revoked_at: int | None


def add_key_within_limits(
    engine: Engine,
    *,
    key_id: str,
    address: str,
    label: str,
    secret_sha256: bytes,
    now: int,
    max_active: int,
    max_per_day: int,
) -> bool:
    """Insert the key unless `address` holds `max_active` unrevoked keys or created
    `max_per_day` in the last day: the limits are checked by the INSERT itself (one
    statement, so concurrent creations cannot both slip under them on SQLite)."""
    mine = api_keys.c.address == address

    def count(*where: Any) -> Any:
        return select(func.count()).select_from(api_keys).where(mine, *where).scalar_subquery()

    row = select(
        literal(key_id, String),
        literal(address, String),
        literal(label, String),
        literal(secret_sha256, LargeBinary),
        literal(now, BigInteger),
        null(),
    ).where(
        count(api_keys.c.revoked_at.is_(None)) < max_active,
        count(api_keys.c.created_at > now - 86_400) < max_per_day,
    )
    columns = ["id", "address", "label", "secret_sha256", "created_at", "revoked_at"]
    with engine.begin() as conn:
        # RETURNING, not rowcount: psycopg reports -1 rows for an INSERT ... SELECT.
        added = conn.execute(
            insert(api_keys).from_select(columns, row).returning(api_keys.c.id)
        ).first()
    return added is not None


def key_secret(engine: Engine, key_id: str) -> KeySecret | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(api_keys.c.address, api_keys.c.secret_sha256, api_keys.c.revoked_at).where(
                api_keys.c.id == key_id
            )
        ).first()
    if row is None:
        return None
    return KeySecret(str(row.address), bytes(row.secret_sha256), row.revoked_at)


def keys_of(engine: Engine, address: str) -> list[ApiKeyRow]:
    """The keys of `address`, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(api_keys.c.id, api_keys.c.label, api_keys.c.created_at, api_keys.c.revoked_at)
            .where(api_keys.c.address == address)
            .order_by(api_keys.c.created_at)
        ).all()
    return [ApiKeyRow(r.id, r.label, r.created_at, r.revoked_at) for r in rows]


def revoke_key(engine: Engine, key_id: str, *, address: str, now: int) -> ApiKeyRow | None:
    """Revoke `address`'s key `key_id` at `now` (a key revoked before keeps its time);
    None if `address` holds no such key."""
    with engine.begin() as conn:
        row = conn.execute(
            select(api_keys.c.label, api_keys.c.created_at, api_keys.c.revoked_at).where(
                api_keys.c.id == key_id, api_keys.c.address == address
            )
        ).first()
        if row is None:
            return None
        revoked = row.revoked_at if row.revoked_at is not None else now
        conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=revoked))
    return ApiKeyRow(key_id, row.label, row.created_at, revoked)
