"""The rows behind the regulator's alerts other than scans (`domain.alerts`): shipments
received outside their temperature range, and adverse-event reporters per lot."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from medledger.indexer.db import Sql

__all__ = [
    "AdverseReporter",
    "ExcursionRow",
    "LotUnits",
    "adverse_reporters",
    "excursions_since",
    "lot_units",
]


@dataclass(frozen=True, slots=True)
class ExcursionRow:
    """A shipment received with a temperature excursion, or quarantined on receipt."""

    shipment_id: int
    received_at: int  # the settling block's time
    receiver: str  # its address
    temp_min: int  # tenths of a degree Celsius
    temp_max: int
    excursion_seconds: int
    quarantined: bool


def excursions_since(conn: Connection, since: int) -> list[ExcursionRow]:
    rows = Sql(conn).rows(
        "SELECT s.id, b.timestamp, o.address, s.temp_min, s.temp_max, s.excursion_seconds, "
        "s.quarantined FROM shipments s JOIN blocks b ON b.number = s.settled_block "
        "JOIN organisations o ON o.id = s.receiver_id "
        "WHERE s.settled_block IS NOT NULL AND (s.quarantined = ? OR s.excursion_seconds > 0) "
        "AND b.timestamp >= ?",
        (True, since),
    )
    return [
        ExcursionRow(int(sid), int(t), str(addr), int(tmin), int(tmax), int(exc or 0), bool(q))
        for sid, t, addr, tmin, tmax, exc, q in rows
    ]


@dataclass(frozen=True, slots=True)
class AdverseReporter:
    """A member that reported adverse events about a lot or one of its units."""

    lot_index: int
    reporter_id: int
    last_report_at: int


def adverse_reporters(conn: Connection) -> list[AdverseReporter]:
    """Per lot and reporting member, the time of the last report: reports naming a unit
    and reports naming the lot (a pair may appear once for each)."""
    sql = Sql(conn)
    out: list[AdverseReporter] = []
    for query in (
        "SELECT i.lot_index, a.reporter_id, MAX(b.timestamp) FROM adverse_events a "
        "JOIN items i ON i.item_key = a.subject JOIN blocks b ON b.number = a.block_number "
        "WHERE i.lot_index IS NOT NULL GROUP BY i.lot_index, a.reporter_id",
        "SELECT l.lot_index, a.reporter_id, MAX(b.timestamp) FROM adverse_events a "
        "JOIN lots l ON l.lot_key = a.subject JOIN blocks b ON b.number = a.block_number "
        "GROUP BY l.lot_index, a.reporter_id",
    ):
        out += [AdverseReporter(int(i), int(r), int(t)) for i, r, t in sql.rows(query)]
    return out


@dataclass(frozen=True, slots=True)
class LotUnits:
    gtin: str
    lot_number: str
    units: int  # commissioned units (containers aside)


def lot_units(conn: Connection, lot_index: int) -> LotUnits:
    sql = Sql(conn)
    units = sql.one(
        "SELECT COUNT(*) FROM items WHERE lot_index = ? AND is_container = ?", (lot_index, False)
    )
    gtin, number = sql.rows("SELECT gtin, lot_number FROM lots WHERE lot_index = ?", (lot_index,))[
        0
    ]
    return LotUnits(str(gtin), str(number), int(units))
