"""Signed-out portal sessions (`portal_revoked_sessions`), kept until they would expire."""

from __future__ import annotations

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from medledger.indexer.store.tables import revoked_sessions

__all__ = ["is_token_revoked", "revoke_token"]


def revoke_token(engine: Engine, token: str, *, expires_at: int, now: float) -> None:
    """Record `token` as signed out, forgetting revocations expired before `now`."""
    with engine.begin() as conn:
        conn.execute(delete(revoked_sessions).where(revoked_sessions.c.expires_at < now))
    try:
        with engine.begin() as conn:
            conn.execute(insert(revoked_sessions).values(token=token, expires_at=expires_at))
    except IntegrityError:  # signed out already (another tab or worker, maybe just now)
        pass


def is_token_revoked(engine: Engine, token: str) -> bool:
    with engine.connect() as conn:
        found = conn.execute(
            select(revoked_sessions.c.token).where(revoked_sessions.c.token == token)
        ).first()
    return found is not None
