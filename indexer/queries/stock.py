"""Stock and verification queries: inventory by holder, stock expiring soon, and scan
anomalies (one serial scanned in two places within a window, or after it was dispensed).

Scans are off-chain facts the verification API records with `record_scan`; a reorg never
touches them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from indexer.db import Sql
from indexer.items import EventKind
from sdk.model import ItemStatus

__all__ = [
    "ExpiringLine",
    "InventoryLine",
    "ScanAnomaly",
    "expiring_stock",
    "inventory",
    "record_scan",
    "scan_anomalies",
]

DAY = 24 * 3600
IN_STOCK = (int(ItemStatus.ACTIVE), int(ItemStatus.IN_TRANSIT), int(ItemStatus.QUARANTINED))


@dataclass(frozen=True, slots=True)
class InventoryLine:
    gtin: str
    lot_number: str
    expiry: int
    status: ItemStatus
    units: int


def inventory(conn: Connection, holder: str) -> list[InventoryLine]:
    """Units a member holds (active, in transit or quarantined), per lot and status."""
    sql = Sql(conn)
    org = sql.one("SELECT id FROM organisations WHERE address = ?", (holder,))
    if org is None:
        return []
    rows = sql.rows(
        "SELECT l.gtin, l.lot_number, l.expiry, s.status, s.units FROM ("
        " SELECT lot_index, status, COUNT(*) AS units FROM items"
        " WHERE holder_id = ? AND status IN (?, ?, ?) AND lot_index IS NOT NULL"
        " GROUP BY lot_index, status"
        ") s JOIN lots l ON l.lot_index = s.lot_index ORDER BY l.expiry, l.gtin, l.lot_number",
        (int(org), *IN_STOCK),
    )
    return [InventoryLine(str(g), str(n), int(e), ItemStatus(s), int(u)) for g, n, e, s, u in rows]


@dataclass(frozen=True, slots=True)
class ExpiringLine:
    gtin: str
    lot_number: str
    expiry: int
    holder: str
    units: int


def expiring_stock(
    conn: Connection, *, now: int, within_days: int, holder: str | None = None
) -> list[ExpiringLine]:
    """Units still in stock whose lot expires between `now` and `now + within_days`."""
    if within_days < 0:
        raise ValueError(f"within_days must be >= 0, not {within_days}")
    sql = Sql(conn)
    params: list[object] = [now, now + within_days * DAY, *IN_STOCK]
    holder_filter = ""
    if holder is not None:
        org = sql.one("SELECT id FROM organisations WHERE address = ?", (holder,))
        if org is None:
            return []
        holder_filter = " AND i.holder_id = ?"
        params.append(int(org))
    rows = sql.rows(
        "SELECT l.gtin, l.lot_number, l.expiry, o.address, COUNT(*) FROM lots l "
        "JOIN items i ON i.lot_index = l.lot_index "
        "JOIN organisations o ON o.id = i.holder_id "
        "WHERE l.expiry >= ? AND l.expiry <= ? AND i.status IN (?, ?, ?)"
        f"{holder_filter} "
        "GROUP BY l.gtin, l.lot_number, l.expiry, o.address "
        "ORDER BY l.expiry, l.gtin, l.lot_number, o.address",
        params,
    )
    return [ExpiringLine(str(g), str(n), int(e), str(a), int(c)) for g, n, e, a, c in rows]


def record_scan(
    conn: Connection, item_key: bytes, *, scanned_at: int, location: str, scanner: str | None
) -> None:
    """Log one verification scan (the caller commits)."""
    Sql(conn).run(
        "INSERT INTO verification_scans (item_key, scanned_at, location, scanner) "
        "VALUES (?, ?, ?, ?)",
        (item_key, scanned_at, location, scanner),
    )


@dataclass(frozen=True, slots=True)
class ScanAnomaly:
    kind: str  # "two_places" or "after_dispensed"
    item_key: bytes
    scanned_at: int
    location: str
    other_location: str | None  # the earlier scan's place, for "two_places"
    other_time: int  # the earlier scan's time, or the dispensing block's time


def scan_anomalies(conn: Connection, *, since: int, window_seconds: int) -> list[ScanAnomaly]:
    """Scans since `since` that contradict each other or the chain."""
    sql = Sql(conn)
    twice = sql.rows(
        "SELECT s2.item_key, s2.scanned_at, s2.location, s1.location, s1.scanned_at "
        "FROM verification_scans s2 JOIN verification_scans s1 "
        "ON s1.item_key = s2.item_key AND s1.scanned_at >= s2.scanned_at - ? "
        "AND s1.scanned_at <= s2.scanned_at AND s1.id <> s2.id AND s1.location <> s2.location "
        "WHERE s2.scanned_at >= ? ORDER BY s2.scanned_at, s2.id",
        (window_seconds, since),
    )
    after = sql.rows(
        "SELECT s.item_key, s.scanned_at, s.location, b.timestamp "
        "FROM verification_scans s JOIN items i ON i.item_key = s.item_key "
        "JOIN item_events e ON e.item_id = i.id "
        "JOIN blocks b ON b.number = e.block_number "
        "WHERE s.scanned_at >= ? AND i.status = ? AND e.kind = ? AND s.scanned_at > b.timestamp "
        "ORDER BY s.scanned_at, s.id",
        (since, int(ItemStatus.DISPENSED), int(EventKind.DISPENSED)),
    )
    out = [
        ScanAnomaly("two_places", bytes(k), int(t), str(loc), str(other), int(ot))
        for k, t, loc, other, ot in twice
    ]
    out += [
        ScanAnomaly("after_dispensed", bytes(k), int(t), str(loc), None, int(bt))
        for k, t, loc, bt in after
    ]
    return out
