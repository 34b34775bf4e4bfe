"""The verification scans the oversight feed carries: read on the partner side by row id,
written on the regulator's side into its own `verification_scans` (see
`domain.oversight_feed` for the cursors and why a page may be written twice)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from medledger.indexer.db import Sql

__all__ = ["PulledScan", "ScanRow", "add_pulled_scans", "scans_after"]

_COLUMNS = ("item_key", "scanned_at", "location", "scanner")

PulledScan = tuple[bytes, int, str, str | None]
"""(item_key, scanned_at, location, scanner) of a scan pulled from the partner."""


@dataclass(frozen=True, slots=True)
class ScanRow:
    id: int
    item_key: bytes
    scanned_at: int
    location: str
    scanner: str | None  # a member address, an older key hash, or None (anonymous)


def scans_after(conn: Connection, after: int, *, limit: int) -> list[ScanRow]:
    """Scans logged after row `after`, oldest first."""
    rows = Sql(conn).rows(
        "SELECT id, item_key, scanned_at, location, scanner FROM verification_scans "
        "WHERE id > ? ORDER BY id LIMIT ?",
        (after, limit),
    )
    return [
        ScanRow(int(i), bytes(k), int(t), str(loc), None if s is None else str(s))
        for i, k, t, loc, s in rows
    ]


def add_pulled_scans(engine: Engine, rows: Sequence[PulledScan], *, recheck: bool) -> int:
    """Append `rows` to `verification_scans`; with `recheck`, rows already there with the
    same unit, time, place and scanner (as many times as `rows` has them) are skipped.
    Returns how many rows were written."""
    fresh = _not_yet_written(engine, rows) if rows and recheck else list(rows)
    if fresh:
        with engine.begin() as conn:
            Sql(conn).bulk_insert("verification_scans", _COLUMNS, fresh)
    return len(fresh)


def _not_yet_written(engine: Engine, rows: Sequence[PulledScan]) -> list[PulledScan]:
    keys = {r[0] for r in rows}
    with engine.connect() as conn:
        present = Counter(
            (bytes(k), int(t), str(loc), None if s is None else str(s))
            for k, t, loc, s in Sql(conn).rows(
                "SELECT item_key, scanned_at, location, scanner FROM verification_scans "
                "WHERE scanned_at >= ? AND scanned_at <= ?",
                (min(r[1] for r in rows), max(r[1] for r in rows)),
            )
            if bytes(k) in keys
        )
    fresh = []
    for row in rows:
        if present[row]:
            present[row] -= 1
        else:
            fresh.append(row)
    return fresh
