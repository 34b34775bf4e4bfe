"""How far the regulator's pull of each oversight feed got (`api_oversight_cursors`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, select, update

from medledger.indexer.store.recalls import Acknowledgement, add_missing_acknowledgements
from medledger.indexer.store.tables import oversight_cursors

__all__ = ["load_cursor", "save_acknowledgements", "save_cursor"]


def load_cursor(engine: Engine, feed: str) -> str | None:
    """The position saved for `feed`, as the feed's text."""
    with engine.connect() as conn:
        found = conn.execute(
            select(oversight_cursors.c.position).where(oversight_cursors.c.feed == feed)
        ).scalar()
    return None if found is None else str(found)


def _save(conn: Connection, feed: str, position: str) -> None:
    c = oversight_cursors.c
    done = conn.execute(update(oversight_cursors).where(c.feed == feed).values(position=position))
    if done.rowcount == 0:
        conn.execute(oversight_cursors.insert().values(feed=feed, position=position))


def save_cursor(engine: Engine, feed: str, position: str) -> None:
    with engine.begin() as conn:
        _save(conn, feed, position)


def save_acknowledgements(
    engine: Engine, acks: Sequence[Acknowledgement], *, feed: str, position: str
) -> int:
    """The acknowledgements this side lacks and the feed's cursor, in one transaction;
    returns how many acknowledgements were written."""
    with engine.begin() as conn:
        written = add_missing_acknowledgements(conn, acks)
        _save(conn, feed, position)
    return written
