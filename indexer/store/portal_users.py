"""Portal users (`portal_users`): a username, a scrypt password hash, a member and the
user's role inside it; and the per-user API keys of staff (`portal_staff_keys`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from medledger.indexer.store.tables import portal_users, staff_keys

__all__ = [
    "StaffKeyRow",
    "UserRow",
    "add_staff_key",
    "add_user_row",
    "revoke_staff_key",
    "staff_key",
    "staff_keys_of",
    "user_row",
    "users_of",
]


@dataclass(frozen=True, slots=True)
class UserRow:
    username: str
    address: str
    display_name: str
    password_hash: str
    role: str = "manager"
    created_by: str | None = None
    created_at: int = 0


def add_user_row(engine: Engine, user: UserRow, *, now: int) -> bool:
    """Insert `user`; False (nothing written) if its username is taken."""
    with engine.begin() as conn:
        if conn.execute(
            select(portal_users.c.username).where(portal_users.c.username == user.username)
        ).first():
            return False
        conn.execute(
            insert(portal_users).values(
                username=user.username,
                password_hash=user.password_hash,
                address=user.address,
                display_name=user.display_name,
                role=user.role,
                created_by=user.created_by,
                created_at=now,
            )
        )
    return True


_COLUMNS = (
    portal_users.c.username,
    portal_users.c.address,
    portal_users.c.display_name,
    portal_users.c.password_hash,
    portal_users.c.role,
    portal_users.c.created_by,
    portal_users.c.created_at,
)


def _row(row: object) -> UserRow:
    return UserRow(*(row[i] for i in range(7)))  # type: ignore[index]


def user_row(engine: Engine, username: str) -> UserRow | None:
    with engine.connect() as conn:
        row = conn.execute(select(*_COLUMNS).where(portal_users.c.username == username)).first()
    return None if row is None else _row(row)


def users_of(engine: Engine, address: str, *, limit: int = 500) -> list[UserRow]:
    """The users of the member at `address` (checksummed), by username."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(*_COLUMNS)
            .where(portal_users.c.address == address)
            .order_by(portal_users.c.username)
            .limit(limit)
        ).all()
    return [_row(r) for r in rows]


@dataclass(frozen=True, slots=True)
class StaffKeyRow:
    id: str
    username: str
    label: str
    secret_sha256: bytes
    created_at: int
    revoked_at: int | None


def add_staff_key(engine: Engine, key: StaffKeyRow) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(staff_keys).values(
                id=key.id,
                username=key.username,
                label=key.label,
                secret_sha256=key.secret_sha256,
                created_at=key.created_at,
                revoked_at=key.revoked_at,
            )
        )


def _key(row: object) -> StaffKeyRow:
    return StaffKeyRow(*(row[i] for i in range(6)))  # type: ignore[index]


_KEY_COLUMNS = (
    staff_keys.c.id,
    staff_keys.c.username,
    staff_keys.c.label,
    staff_keys.c.secret_sha256,
    staff_keys.c.created_at,
    staff_keys.c.revoked_at,
)


def staff_key(engine: Engine, key_id: str) -> StaffKeyRow | None:
    with engine.connect() as conn:
        row = conn.execute(select(*_KEY_COLUMNS).where(staff_keys.c.id == key_id)).first()
    return None if row is None else _key(row)


def staff_keys_of(engine: Engine, username: str) -> list[StaffKeyRow]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(*_KEY_COLUMNS)
            .where(staff_keys.c.username == username)
            .order_by(staff_keys.c.created_at)
        ).all()
    return [_key(r) for r in rows]


def revoke_staff_key(engine: Engine, key_id: str, *, username: str, now: int) -> bool:
    with engine.begin() as conn:
        done = conn.execute(
            update(staff_keys)
            .where(
                staff_keys.c.id == key_id,
                staff_keys.c.username == username,
                staff_keys.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
    return done.rowcount == 1
