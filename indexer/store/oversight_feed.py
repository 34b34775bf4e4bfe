"""How far the regulator's pull of each oversight feed got (`api_oversight_cursors`), and
which anchored master-data versions its own read model knows (`anchored_after`), so that
the pull asks the partner API for the records it lacks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select, text, update

from medledger.indexer.store.recalls import Acknowledgement, add_missing_acknowledgements
from medledger.indexer.store.tables import oversight_cursors

__all__ = [
    "AnchoredVersion",
    "anchored_after",
    "load_cursor",
    "save_acknowledgements",
    "save_cursor",
]


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


# ------------------------------------------------------------------ master records


@dataclass(frozen=True, slots=True)
class AnchoredVersion:
    """One anchored master-data version in the regulator's own read model."""

    block_number: int
    gtin: str
    version: int
    master_hash: bytes

    @property
    def position(self) -> tuple[int, str, int]:
        return (self.block_number, self.gtin, self.version)


def anchored_after(
    index: Engine, after: tuple[int, str, int], *, limit: int
) -> list[AnchoredVersion]:
    """Versions anchored after `after` (block, GTIN, version) in that order, from the
    read model's `product_master_versions`."""
    block, gtin, version = after
    with index.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT block_number, gtin, version, master_hash FROM product_master_versions "
                "WHERE block_number > :b OR (block_number = :b AND (gtin > :g "
                "OR (gtin = :g AND version > :v))) "
                "ORDER BY block_number, gtin, version LIMIT :n"
            ),
            {"b": block, "g": gtin, "v": version, "n": limit},
        ).all()
    return [
        AnchoredVersion(int(r.block_number), str(r.gtin), int(r.version), bytes(r.master_hash))
        for r in rows
    ]
