"""Portal users (`portal_users`): a username, a scrypt password hash and a member."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, insert, select

from medledger.indexer.store.tables import portal_users

__all__ = ["UserRow", "add_user_row", "user_row"]


@dataclass(frozen=True, slots=True)
class UserRow:
    username: str
    address: str
    display_name: str
    password_hash: str


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
                created_at=now,
            )
        )
    return True


def user_row(engine: Engine, username: str) -> UserRow | None:
    c = portal_users.c
    with engine.connect() as conn:
        row = conn.execute(
            select(c.username, c.address, c.display_name, c.password_hash).where(
                c.username == username
            )
        ).first()
    if row is None:
        return None
    return UserRow(str(row.username), str(row.address), str(row.display_name),
                   str(row.password_hash))  # fmt: skip
