"""Forward-only positions in the event stream, one row per key in a table of three
columns (key primary key, `seq`, `updated_at`): the AMQP publisher's cursor and the
portal users' read positions."""

from __future__ import annotations

import time

from sqlalchemy import Column, Engine, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

__all__ = ["advance_position", "load_position"]


def _key(table: Table) -> Column[str]:
    return next(iter(table.primary_key.columns))


def load_position(engine: Engine, table: Table, key: str) -> int:
    """The position under `key`; 0 when there is none yet."""
    with engine.connect() as conn:
        seq = conn.execute(select(table.c.seq).where(_key(table) == key)).scalar()
    return int(seq or 0)


def advance_position(engine: Engine, table: Table, key: str, seq: int) -> None:
    """Move the position under `key` to `seq`; one already at or past it is left alone."""
    now = int(time.time())
    column = _key(table)
    with engine.begin() as conn:
        moved = conn.execute(
            update(table).where(column == key, table.c.seq < seq).values(seq=seq, updated_at=now)
        ).rowcount
        if moved or conn.execute(select(table.c.seq).where(column == key)).first():
            return
    try:
        with engine.begin() as conn:
            conn.execute(insert(table).values({column.name: key, "seq": seq, "updated_at": now}))
    except IntegrityError:  # made meanwhile by another process or tab: move that one
        advance_position(engine, table, key, seq)
