"""Each portal user's read position in the notification centre
(`portal_notification_reads`): the events up to `seq` are read. It only moves forward."""

from __future__ import annotations

from sqlalchemy import Engine

from medledger.indexer.store.positions import advance_position, load_position
from medledger.indexer.store.tables import notification_reads

__all__ = ["mark_read_up_to", "read_up_to"]


def read_up_to(engine: Engine, username: str) -> int:
    """The newest seq `username` has read; 0 when it never marked anything read."""
    return load_position(engine, notification_reads, username)


def mark_read_up_to(engine: Engine, username: str, seq: int) -> None:
    """Everything up to `seq` is read by `username` (a lower `seq` changes nothing)."""
    advance_position(engine, notification_reads, username, seq)
