"""The recall centre's list: every recall, newest first, with its lot and dates."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from domain.recalls import DAY, NOTICE_DAYS
from indexer.db import Sql

__all__ = ["RecallRow", "recall_rows"]


@dataclass(frozen=True, slots=True)
class RecallRow:
    recall_id: int
    level: int
    gtin: str
    lot: str
    opened_at: int
    closed_block: int | None

    @property
    def open(self) -> bool:
        return self.closed_block is None

    @property
    def deadline(self) -> int:
        return self.opened_at + NOTICE_DAYS.get(self.level, 7) * DAY


def recall_rows(conn: Connection, *, limit: int = 200) -> list[RecallRow]:
    rows = Sql(conn).rows(
        "SELECT r.id, r.level, l.gtin, l.lot_number, b.timestamp, r.closed_block "
        "FROM recalls r JOIN lots l ON l.lot_index = r.lot_index "
        "JOIN blocks b ON b.number = r.opened_block ORDER BY r.id DESC LIMIT ?",
        (limit,),
    )
    return [
        RecallRow(int(i), int(lv), str(g), str(n), int(t), None if c is None else int(c))
        for i, lv, g, n, t, c in rows
    ]
