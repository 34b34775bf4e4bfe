"""The spent set of sign-in challenges (`api_challenges`)."""

from __future__ import annotations

from sqlalchemy import Engine, delete, insert
from sqlalchemy.exc import IntegrityError

from medledger.indexer.store.tables import challenges

__all__ = ["spend_nonce"]


def spend_nonce(engine: Engine, *, nonce: str, address: str, message: str, expires_at: int,
                now: int) -> bool:  # fmt: skip
    """Add `nonce` to the spent set, dropping rows expired before `now`; False if it was
    spent already (of two concurrent spends, the second loses at the INSERT)."""
    try:
        with engine.begin() as conn:
            conn.execute(delete(challenges).where(challenges.c.expires_at < now))
            conn.execute(
                insert(challenges).values(
                    nonce=nonce, address=address, message=message, expires_at=expires_at, used=True
                )
            )
    except IntegrityError:
        return False
    return True
