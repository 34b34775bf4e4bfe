"""Recall acknowledgements (`api_recall_acknowledgements`): off-chain facts, the first
acknowledgement of a holder kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, or_, select
from sqlalchemy.exc import IntegrityError

from medledger.indexer.store.tables import acknowledgements

__all__ = [
    "Acknowledgement",
    "acknowledgements_after",
    "acknowledgements_of",
    "add_acknowledgement",
    "add_missing_acknowledgements",
]


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    recall_id: int
    holder: str
    acknowledged_at: int
    acknowledged_by: str  # the portal user or the API sign-in method
    note: str


def _ack(row: Any) -> Acknowledgement:
    return Acknowledgement(
        int(row.recall_id),
        str(row.holder),
        int(row.acknowledged_at),
        str(row.acknowledged_by),
        str(row.note),
    )


def acknowledgements_of(engine: Engine, recall_id: int) -> dict[str, Acknowledgement]:
    """Recall `recall_id`'s acknowledgements by holder address."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(acknowledgements).where(acknowledgements.c.recall_id == recall_id)
        ).all()
    return {str(r.holder): _ack(r) for r in rows}


def add_acknowledgement(engine: Engine, ack: Acknowledgement) -> Acknowledgement:
    """Record `ack` unless its holder acknowledged already; returns the one that stands."""
    try:
        with engine.begin() as conn:
            conn.execute(acknowledgements.insert().values(**asdict(ack)))
    except IntegrityError:  # a concurrent first acknowledgement won
        return acknowledgements_of(engine, ack.recall_id)[ack.holder]
    return ack


def acknowledgements_after(
    engine: Engine, after: tuple[int, int, str], *, limit: int
) -> list[Acknowledgement]:
    """Acknowledgements after `after` in (acknowledged_at, recall_id, holder) order."""
    c = acknowledgements.c
    t, r, h = after
    newer = or_(
        c.acknowledged_at > t,
        and_(c.acknowledged_at == t, c.recall_id > r),
        and_(c.acknowledged_at == t, c.recall_id == r, c.holder > h),
    )
    query = (
        select(acknowledgements)
        .where(newer)
        .order_by(c.acknowledged_at, c.recall_id, c.holder)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [_ack(row) for row in conn.execute(query).all()]


def add_missing_acknowledgements(conn: Connection, acks: Sequence[Acknowledgement]) -> int:
    """Write the acknowledgements of `acks` whose holder has none for that recall (the
    first one stands), on `conn`'s transaction; returns how many were written."""
    c = acknowledgements.c
    written = 0
    for a in acks:
        have = conn.execute(
            select(c.recall_id).where(c.recall_id == a.recall_id, c.holder == a.holder)
        ).first()
        if have is None:
            conn.execute(acknowledgements.insert().values(**asdict(a)))
            written += 1
    return written
