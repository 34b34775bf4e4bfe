"""Stock queries: inventory by holder and stock expiring soon. (Verification scans are
`indexer.queries.scans`.)"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from medledger.indexer.db import Sql
from medledger.sdk.model import ItemStatus

__all__ = [
    "ExpiringLine",
    "InventoryLine",
    "RecallHold",
    "expiring_stock",
    "inventory",
    "recall_holds",
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
    """Serialised units a member holds (active, in transit or quarantined), per lot and
    status. Cases of lot-tracked lots are counted in units by
    `indexer.queries.lot_quantities.lot_stock`, not here."""
    sql = Sql(conn)
    org = sql.one("SELECT id FROM organisations WHERE address = ?", (holder,))
    if org is None:
        return []
    rows = sql.rows(
        "SELECT l.gtin, l.lot_number, l.expiry, s.status, s.units FROM ("
        " SELECT lot_index, status, COUNT(*) AS units FROM items"
        " WHERE holder_id = ? AND status IN (?, ?, ?) AND lot_index IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM case_contents c WHERE c.item_id = items.id)"
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


@dataclass(frozen=True, slots=True)
class RecallHold:
    """An open recall on a lot (gtin, lot number)."""

    gtin: str
    lot_number: str
    recall_id: int
    level: int


def recall_holds(conn: Connection, holder: str) -> dict[tuple[str, str], RecallHold]:
    """The open recalls of lots `holder` (an address) holds or held units of, by (gtin,
    lot number): what its stock pages and inventory flag as recalled."""
    rows = Sql(conn).rows(
        "SELECT l.gtin, l.lot_number, r.id, r.level FROM lots l "
        "JOIN recalls r ON r.id = l.active_recall "
        "JOIN organisations o ON o.address = ? "
        "WHERE l.active_recall <> 0 AND (EXISTS (SELECT 1 FROM lot_reach x "
        " WHERE x.lot_index = l.lot_index AND x.organisation_id = o.id) OR EXISTS ("
        " SELECT 1 FROM lot_balances b WHERE b.lot_index = l.lot_index "
        " AND b.organisation_id = o.id))",
        (holder,),
    )
    return {(str(g), str(n)): RecallHold(str(g), str(n), int(r), int(v)) for g, n, r, v in rows}
