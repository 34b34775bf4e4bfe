"""The AMQP publisher's cursor (`api_broker_cursors`): per exchange, the newest event seq
whose every message the broker confirmed. It only moves forward."""

from __future__ import annotations

from sqlalchemy import Engine

from medledger.indexer.store.positions import advance_position, load_position
from medledger.indexer.store.tables import broker_cursors

__all__ = ["load_broker_cursor", "save_broker_cursor"]


def load_broker_cursor(engine: Engine, exchange: str) -> int:
    """The confirmed position on `exchange`; 0 before the first confirm."""
    return load_position(engine, broker_cursors, exchange)


def save_broker_cursor(engine: Engine, exchange: str, seq: int) -> None:
    """Move the position on `exchange` to `seq` (never back)."""
    advance_position(engine, broker_cursors, exchange, seq)
