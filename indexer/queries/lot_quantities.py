"""Custody by quantity, read: what each organisation holds of a lot-tracked lot (loose
Active, Quarantined, shipped and not yet settled, and inside cases), a holder's stock of
such lots, and how many units of a lot are still in the supply chain.

The facts are the projection's `lot_balances` (a holder's loose units after the last
`LotBalance` event) and `case_contents` (cases are `items` rows holding a quantity of their
lot). A case counts while it is Active, in transit or quarantined; an Unpacked case's units
are back in its holder's loose balance, a dispensed or destroyed one's are gone. So a lot's
units in the supply chain are the sum of both, which is `Items.lotSupply` (commissioned
minus dispensed minus destroyed).

Every read takes a `Reader` (`indexer.db.Sql` or the verification path's `DirectSql`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medledger.indexer.items import EventKind
from medledger.indexer.queries.verification import Reader
from medledger.sdk.model import ItemStatus

__all__ = [
    "LotHolding",
    "LotMove",
    "LotStockLine",
    "base_product",
    "lot_holdings",
    "lot_index_of",
    "lot_moves",
    "lot_quantity_reach",
    "lot_stock",
    "lot_tracked",
    "units_gone",
    "units_in_supply_chain",
]

LIVE_CASE = (int(ItemStatus.ACTIVE), int(ItemStatus.IN_TRANSIT), int(ItemStatus.QUARANTINED))


@dataclass(frozen=True, slots=True)
class LotHolding:
    """One organisation's units of one lot."""

    address: str
    name: str
    active: int  # loose, usable
    quarantined: int  # loose, on hold
    in_transit: int  # loose, shipped by this organisation and not yet settled
    cases: int  # live cases it holds (Active, in transit or quarantined)
    case_units: int  # units inside those cases

    @property
    def total(self) -> int:
        return self.active + self.quarantined + self.in_transit + self.case_units


def lot_tracked(sql: Reader, lot_index: int) -> bool:
    """Whether the lot's product is tracked by quantity (not serialised)."""
    found = sql.one(
        "SELECT p.serialised FROM lots l JOIN products p ON p.gtin = l.gtin WHERE l.lot_index = ?",
        (lot_index,),
    )
    return found is not None and not bool(found)


def lot_index_of(sql: Reader, lot_key: bytes) -> int | None:
    found = sql.one("SELECT lot_index FROM lots WHERE lot_key = ?", (lot_key,))
    return None if found is None else int(found)


def lot_holdings(sql: Reader, lot_index: int) -> list[LotHolding]:
    """Every organisation holding units of the lot (any of the five figures non-zero),
    most units first."""
    loose = {
        int(o): (int(a), int(q), int(t))
        for o, a, q, t in sql.rows(
            "SELECT organisation_id, active, quarantined, in_transit FROM lot_balances "
            "WHERE lot_index = ?",
            (lot_index,),
        )
    }
    cases = {
        int(o): (int(n), int(u))
        for o, n, u in sql.rows(
            "SELECT i.holder_id, COUNT(*), SUM(c.quantity) FROM items i "
            "JOIN case_contents c ON c.item_id = i.id "
            "WHERE i.lot_index = ? AND i.status IN (?, ?, ?) GROUP BY i.holder_id",
            (lot_index, *LIVE_CASE),
        )
    }
    ids = {o for o, v in loose.items() if any(v)} | set(cases)
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    names = {
        int(i): (str(a), str(n))
        for i, a, n in sql.rows(
            f"SELECT id, address, name FROM organisations WHERE id IN ({marks})", sorted(ids)
        )
    }
    found = [LotHolding(*names[o], *loose.get(o, (0, 0, 0)), *cases.get(o, (0, 0))) for o in ids]
    return sorted(found, key=lambda h: (-h.total, h.address))


def units_in_supply_chain(sql: Reader, lot_index: int) -> int:
    """The lot's units neither dispensed nor destroyed: loose anywhere, in transit, and
    inside live cases (equals `Items.lotSupply`)."""
    loose = sql.one(
        "SELECT SUM(active + quarantined + in_transit) FROM lot_balances WHERE lot_index = ?",
        (lot_index,),
    )
    packed = sql.one(
        "SELECT SUM(c.quantity) FROM items i JOIN case_contents c ON c.item_id = i.id "
        "WHERE i.lot_index = ? AND i.status IN (?, ?, ?)",
        (lot_index, *LIVE_CASE),
    )
    return int(loose or 0) + int(packed or 0)


def base_product(sql: Reader, package_gtin: str) -> str | None:
    """The unit product a package GTIN (a box, a case) holds, or None if it is no
    registered package level."""
    found = sql.one("SELECT base_gtin FROM package_levels WHERE package_gtin = ?", (package_gtin,))
    return None if found is None else str(found)


@dataclass(frozen=True, slots=True)
class LotStockLine:
    """A holder's units of one lot-tracked lot."""

    gtin: str
    lot_number: str
    expiry: int
    active: int
    quarantined: int
    in_transit: int
    cases: int
    case_units: int

    @property
    def total(self) -> int:
        return self.active + self.quarantined + self.in_transit + self.case_units


def lot_stock(sql: Reader, holder: str) -> list[LotStockLine]:
    """The lot-tracked lots `holder` (an address) has units of, soonest expiry first."""
    org = sql.one("SELECT id FROM organisations WHERE address = ?", (holder,))
    if org is None:
        return []
    rows = sql.rows(
        "SELECT l.gtin, l.lot_number, l.expiry, x.a, x.q, x.t, x.n, x.u FROM ("
        " SELECT y.lot_index, SUM(y.a) AS a, SUM(y.q) AS q, SUM(y.t) AS t, SUM(y.n) AS n,"
        " SUM(y.u) AS u FROM ("
        "  SELECT lot_index, active AS a, quarantined AS q, in_transit AS t, 0 AS n, 0 AS u"
        "  FROM lot_balances WHERE organisation_id = ?"
        "  UNION ALL"
        "  SELECT i.lot_index, 0, 0, 0, COUNT(*), SUM(c.quantity) FROM items i"
        "  JOIN case_contents c ON c.item_id = i.id"
        "  WHERE i.holder_id = ? AND i.status IN (?, ?, ?) GROUP BY i.lot_index"
        " ) y GROUP BY y.lot_index"
        ") x JOIN lots l ON l.lot_index = x.lot_index ORDER BY l.expiry, l.gtin, l.lot_number",
        (int(org), int(org), *LIVE_CASE),
    )
    lines = [
        LotStockLine(str(g), str(n), int(e), int(a), int(q), int(t), int(c), int(u))
        for g, n, e, a, q, t, c, u in rows
    ]
    return [line for line in lines if line.total]


@dataclass(frozen=True, slots=True)
class LotMove:
    """One quantity of a lot that moved (`lot_events`): `holder` for a holder's own
    change, `sender` and `receiver` for a shipment's (shipped, received, rejected)."""

    kind: EventKind
    block_number: int
    timestamp: int | None
    quantity: int
    holder: str | None
    holder_name: str | None
    shipment_id: int | None
    sender: str | None
    sender_name: str | None
    receiver: str | None
    receiver_name: str | None

    def involves(self, address: str) -> bool:
        return address in (self.holder, self.sender, self.receiver)


def lot_moves(sql: Reader, lot_index: int, *, limit: int = 1000) -> list[LotMove]:
    """The lot's quantity movements, oldest first (at most `limit`)."""
    rows = sql.rows(
        "SELECT m.kind, m.block_number, b.timestamp, m.quantity, o.address, o.name, "
        "m.shipment_id, so.address, so.name, ro.address, ro.name FROM lot_events m "
        "LEFT JOIN blocks b ON b.number = m.block_number "
        "LEFT JOIN organisations o ON o.id = m.holder_id "
        "LEFT JOIN shipments s ON s.id = m.shipment_id "
        "LEFT JOIN organisations so ON so.id = s.sender_id "
        "LEFT JOIN organisations ro ON ro.id = s.receiver_id "
        "WHERE m.lot_index = ? ORDER BY m.block_number, m.log_index, m.kind LIMIT ?",
        (lot_index, limit),
    )
    return [
        LotMove(
            EventKind(int(kind)),
            int(block),
            None if ts is None else int(ts),
            int(quantity),
            _opt(holder),
            _opt(holder_name),
            None if shipment is None else int(shipment),
            _opt(sender),
            _opt(sender_name),
            _opt(receiver),
            _opt(receiver_name),
        )
        for kind, block, ts, quantity, holder, holder_name, shipment, sender, sender_name, receiver, receiver_name in rows  # noqa: E501
    ]


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def lot_quantity_reach(sql: Reader, lot_index: int) -> list[tuple[int, int]]:
    """(organisation id, first block) for every organisation a quantity of the lot reached:
    its manufacturer's commissioning and the receivers of shipments of it that accepted
    some."""
    rows = sql.rows(
        "SELECT COALESCE(m.holder_id, s.receiver_id), MIN(m.block_number) "
        "FROM lot_events m LEFT JOIN shipments s ON s.id = m.shipment_id "
        "WHERE m.lot_index = ? AND m.kind IN (?, ?) "
        "GROUP BY COALESCE(m.holder_id, s.receiver_id)",
        (lot_index, int(EventKind.COMMISSIONED), int(EventKind.RECEIVED)),
    )
    return [(int(org), int(block)) for org, block in rows if org is not None]


def units_gone(sql: Reader, lot_index: int) -> dict[tuple[str, str], tuple[int, int]]:
    """Units of the lot each organisation ((address, name)) dispensed and destroyed, loose
    (`lot_events`) and in whole cases."""
    gone: dict[tuple[str, str], tuple[int, int]] = {}

    def add(address: Any, name: Any, dispensed: bool, units: Any) -> None:
        key = (str(address), str(name))
        d, x = gone.get(key, (0, 0))
        gone[key] = (d + int(units), x) if dispensed else (d, x + int(units))

    for address, name, status, units in sql.rows(
        "SELECT o.address, o.name, i.status, SUM(c.quantity) FROM items i "
        "JOIN case_contents c ON c.item_id = i.id JOIN organisations o ON o.id = i.holder_id "
        "WHERE i.lot_index = ? AND i.status IN (?, ?) GROUP BY o.address, o.name, i.status",
        (lot_index, int(ItemStatus.DISPENSED), int(ItemStatus.DESTROYED)),
    ):
        add(address, name, int(status) == ItemStatus.DISPENSED, units)
    for address, name, kind, units in sql.rows(
        "SELECT o.address, o.name, m.kind, SUM(m.quantity) FROM lot_events m "
        "JOIN organisations o ON o.id = m.holder_id "
        "WHERE m.lot_index = ? AND m.kind IN (?, ?) GROUP BY o.address, o.name, m.kind",
        (lot_index, int(EventKind.DISPENSED), int(EventKind.DESTROYED)),
    ):
        add(address, name, int(kind) == EventKind.DISPENSED, units)
    return gone
