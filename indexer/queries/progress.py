"""How far the read model has got: the newest chain block the indexer has written."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

__all__ = ["indexed_block"]


def indexed_block(conn: Connection) -> int | None:
    """The block the indexer's cursor stands at (None before its first range)."""
    row = conn.execute(text("SELECT block_number FROM cursor WHERE id = 1")).first()
    return None if row is None else int(row.block_number)
