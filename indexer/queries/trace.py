"""Trace queries: unit history, lot forward trace, container contents, recall scope.

Plain functions over a SQLAlchemy connection, returning typed results. Each runs on an
index path (tests/indexer/test_queries.py checks the plans with EXPLAIN on SQLite and
PostgreSQL).

Item ids, lot keys and container ids are the chain's 32-byte values; organisations are
reported by address and name.

A lot trace and a recall scope name every organisation holding the lot's units. Who may
see that is the caller's to decide, with `seen_by`: the lot's manufacturer (and the
regulator, who reads with no viewer) sees every holder; any other member only itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection

from medledger.indexer.db import Sql
from medledger.indexer.items import EventKind
from medledger.indexer.queries.lot_quantities import (
    LotHolding,
    LotMove,
    lot_holdings,
    lot_moves,
    lot_quantity_reach,
    lot_tracked,
    units_gone,
)
from medledger.sdk.model import ItemStatus

__all__ = [
    "HistoryStep",
    "HolderCount",
    "ItemFacts",
    "LotTrace",
    "OrgRef",
    "PackedItem",
    "RecallHolder",
    "RecallScope",
    "container_contents",
    "containers_holding",
    "held_by",
    "item_exists",
    "item_facts",
    "lot_reached",
    "lot_trace",
    "recall_scope",
    "unit_history",
]

IN_STOCK = (int(ItemStatus.ACTIVE), int(ItemStatus.IN_TRANSIT), int(ItemStatus.QUARANTINED))


@dataclass(frozen=True, slots=True)
class OrgRef:
    address: str
    name: str


@dataclass(frozen=True, slots=True)
class HistoryStep:
    """One custody step of an item, with its chain reference."""

    kind: EventKind
    block_number: int
    timestamp: int
    tx_hash: bytes
    log_index: int
    holder: str
    status: ItemStatus
    parent: bytes | None  # the container holding the item after this step
    via: bytes | None  # the container that moved, when the item moved inside one
    shipment_id: int | None


def unit_history(conn: Connection, item_key: bytes) -> list[HistoryStep]:
    """Every event of an item (unit or container), oldest first; [] if unknown."""
    rows = Sql(conn).rows(
        "SELECT e.kind, e.block_number, b.timestamp, l.tx_hash, e.log_index, o.address, "
        "e.status, p.item_key, v.item_key, e.shipment_id "
        "FROM items i "
        "JOIN item_events e ON e.item_id = i.id "
        "JOIN blocks b ON b.number = e.block_number "
        "JOIN processed_logs l ON l.block_number = e.block_number AND l.log_index = e.log_index "
        "JOIN organisations o ON o.id = e.holder_id "
        "LEFT JOIN items p ON p.id = e.parent_id "
        "LEFT JOIN items v ON v.id = e.via_id "
        "WHERE i.item_key = ? ORDER BY e.block_number, e.log_index",
        (item_key,),
    )
    return [
        HistoryStep(
            kind=EventKind(kind),
            block_number=int(block),
            timestamp=int(at),
            tx_hash=bytes(tx_hash),
            log_index=int(index),
            holder=str(holder),
            status=ItemStatus(status),
            parent=None if parent is None else bytes(parent),
            via=None if via is None else bytes(via),
            shipment_id=None if shipment is None else int(shipment),
        )
        for kind, block, at, tx_hash, index, holder, status, parent, via, shipment in rows
    ]


@dataclass(frozen=True, slots=True)
class HolderCount:
    holder: OrgRef
    total: int
    by_status: dict[ItemStatus, int]


@dataclass(frozen=True, slots=True)
class LotTrace:
    lot_index: int
    gtin: str
    lot_number: str
    expiry: int
    holders: list[HolderCount]  # current holders of the lot's units, largest first
    reached: list[tuple[OrgRef, int]]  # every organisation ever reached, with first block
    manufacturer: OrgRef
    # A lot tracked by quantity: units per holder now, and every quantity that moved.
    units: list[LotHolding] = field(default_factory=list)
    movements: list[LotMove] = field(default_factory=list)

    def seen_by(self, viewer: str | None) -> LotTrace:
        """The trace as `viewer` may see it: all of it for the regulator (None) and the
        lot's manufacturer, else only the viewer's own holdings, reach and movements (its
        own, and the shipments it sent or received)."""
        if viewer is None or viewer == self.manufacturer.address:
            return self
        return replace(
            self,
            holders=[h for h in self.holders if h.holder.address == viewer],
            reached=[(o, b) for o, b in self.reached if o.address == viewer],
            units=[u for u in self.units if u.address == viewer],
            movements=[m for m in self.movements if m.involves(viewer)],
        )


def _lot(sql: Sql, lot_key: bytes) -> tuple[int, str, str, int, int] | None:
    """(lot index, GTIN, lot number, expiry, manufacturer's organisation id)."""
    rows = sql.rows(
        "SELECT l.lot_index, l.gtin, l.lot_number, l.expiry, p.manufacturer_id FROM lots l "
        "JOIN products p ON p.gtin = l.gtin WHERE l.lot_key = ?",
        (lot_key,),
    )
    if not rows:
        return None
    ((lot_index, gtin, number, expiry, maker),) = rows
    return int(lot_index), str(gtin), str(number), int(expiry), int(maker)


def _orgs(sql: Sql, ids: set[int]) -> dict[int, OrgRef]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = sql.rows(f"SELECT id, address, name FROM organisations WHERE id IN ({marks})", list(ids))
    return {int(i): OrgRef(str(a), str(n)) for i, a, n in rows}


def _holder_counts(sql: Sql, lot_index: int) -> dict[int, dict[ItemStatus, int]]:
    counts: dict[int, dict[ItemStatus, int]] = {}
    for holder, status, count in sql.rows(
        "SELECT holder_id, status, COUNT(*) FROM items WHERE lot_index = ? "
        "GROUP BY holder_id, status",
        (lot_index,),
    ):
        counts.setdefault(int(holder), {})[ItemStatus(status)] = int(count)
    return counts


def _merge_reach(*lists: Sequence[tuple[Any, ...]]) -> list[tuple[int, int]]:
    """(organisation id, first block) pairs, the earliest per organisation, in block order."""
    first: dict[int, int] = {}
    for pairs in lists:
        for org, block in pairs:
            first[int(org)] = min(int(block), first.get(int(org), int(block)))
    return sorted(first.items(), key=lambda p: (p[1], p[0]))


def lot_trace(conn: Connection, lot_key: bytes) -> LotTrace | None:
    """Forward trace of a lot: who holds its units now, and everyone it ever reached."""
    sql = Sql(conn)
    lot = _lot(sql, lot_key)
    if lot is None:
        return None
    lot_index, gtin, number, expiry, maker = lot
    counts = _holder_counts(sql, lot_index)
    reach = sql.rows(
        "SELECT organisation_id, first_block FROM lot_reach WHERE lot_index = ? "
        "ORDER BY first_block, organisation_id",
        (lot_index,),
    )
    tracked = lot_tracked(sql, lot_index)
    if tracked:  # loose quantities reach their holders without items
        reach = _merge_reach(reach, lot_quantity_reach(sql, lot_index))
    orgs = _orgs(sql, set(counts) | {int(org) for org, _ in reach} | {maker})
    holders = sorted(
        (HolderCount(orgs[h], sum(c.values()), c) for h, c in counts.items()),
        key=lambda h: (-h.total, h.holder.address),
    )
    return LotTrace(
        lot_index,
        gtin,
        number,
        expiry,
        holders,
        [(orgs[int(o)], int(b)) for o, b in reach],
        orgs[maker],
        lot_holdings(sql, lot_index) if tracked else [],
        lot_moves(sql, lot_index) if tracked else [],
    )


@dataclass(frozen=True, slots=True)
class PackedItem:
    item_key: bytes
    code: str  # serial or SSCC
    is_container: bool
    depth: int  # 1 = directly inside
    parent: bytes


def container_contents(conn: Connection, container_key: bytes) -> list[PackedItem]:
    """Everything inside a container, recursively (depth first by level)."""
    rows = Sql(conn).rows(
        "WITH RECURSIVE tree(id, depth) AS ("
        " SELECT id, 0 FROM items WHERE item_key = ?"
        " UNION ALL"
        " SELECT c.id, t.depth + 1 FROM tree t JOIN items c ON c.parent_id = t.id"
        ") SELECT i.item_key, i.code, i.is_container, t.depth, p.item_key "
        "FROM tree t JOIN items i ON i.id = t.id JOIN items p ON p.id = i.parent_id "
        "WHERE t.depth > 0 ORDER BY t.depth, i.id",
        (container_key,),
    )
    return [PackedItem(bytes(k), str(c), bool(ic), int(d), bytes(p)) for k, c, ic, d, p in rows]


def containers_holding(conn: Connection, item_key: bytes) -> list[bytes]:
    """The containers an item sits in, innermost first ([] if loose or unknown)."""
    rows = Sql(conn).rows(
        "WITH RECURSIVE up(id, parent_id, depth) AS ("
        " SELECT id, parent_id, 0 FROM items WHERE item_key = ?"
        " UNION ALL"
        " SELECT i.id, i.parent_id, u.depth + 1 FROM up u JOIN items i ON i.id = u.parent_id"
        ") SELECT i.item_key FROM up u JOIN items i ON i.id = u.id WHERE u.depth > 0 "
        "ORDER BY u.depth",
        (item_key,),
    )
    return [bytes(key) for (key,) in rows]


@dataclass(frozen=True, slots=True)
class RecallHolder:
    holder: OrgRef
    outstanding: int  # still in the field: active, in transit or quarantined
    dispensed: int  # used on patients before or despite the recall
    # For a lot tracked by quantity: the units by state (loose, quarantined, shipped and
    # not yet settled, inside cases); `outstanding` is their total.
    quantity: LotHolding | None = None


@dataclass(frozen=True, slots=True)
class RecallScope:
    recall_id: int
    lot_index: int
    level: int
    open: bool
    manufacturer: OrgRef
    holders: list[RecallHolder]  # field holders (not the manufacturer), most outstanding first
    outstanding: int
    returned: int  # back at the manufacturer, not yet destroyed
    destroyed: int
    by_quantity: bool = False  # a lot-tracked lot: figures are units, not items

    def seen_by(self, viewer: str | None) -> RecallScope:
        """The scope as `viewer` may see it: every field holder for the regulator (None)
        and the manufacturer, else only the viewer's own line (the totals stay: they name
        no one)."""
        if viewer is None or viewer == self.manufacturer.address:
            return self
        return replace(self, holders=[h for h in self.holders if h.holder.address == viewer])


def recall_scope(conn: Connection, recall_id: int) -> RecallScope | None:
    """Scope and progress of a recall: outstanding units per holder, returned, destroyed."""
    sql = Sql(conn)
    rows = sql.rows(
        "SELECT r.lot_index, r.level, r.closed_block, p.manufacturer_id FROM recalls r "
        "JOIN lots l ON l.lot_index = r.lot_index JOIN products p ON p.gtin = l.gtin "
        "WHERE r.id = ?",
        (recall_id,),
    )
    if not rows:
        return None
    lot_index, level, closed, maker = (int(rows[0][0]), int(rows[0][1]), rows[0][2], rows[0][3])
    if lot_tracked(sql, lot_index):
        return _quantity_scope(sql, recall_id, lot_index, level, closed is None, int(maker))
    counts = _holder_counts(sql, lot_index)
    orgs = _orgs(sql, set(counts) | {int(maker)})
    destroyed = sum(c.get(ItemStatus.DESTROYED, 0) for c in counts.values())
    at_maker = counts.get(int(maker), {})
    returned = sum(n for s, n in at_maker.items() if s != ItemStatus.DESTROYED)
    holders: list[RecallHolder] = []
    for holder, c in counts.items():
        if holder == int(maker):
            continue
        outstanding = sum(n for s, n in c.items() if int(s) in IN_STOCK)
        dispensed = c.get(ItemStatus.DISPENSED, 0)
        if outstanding or dispensed:
            holders.append(RecallHolder(orgs[holder], outstanding, dispensed))
    holders.sort(key=lambda h: (-h.outstanding, h.holder.address))
    return RecallScope(
        recall_id,
        lot_index,
        level,
        closed is None,
        orgs[int(maker)],
        holders,
        sum(h.outstanding for h in holders),
        returned,
        destroyed,
    )


def _quantity_scope(
    sql: Sql, recall_id: int, lot_index: int, level: int, is_open: bool, maker: int
) -> RecallScope:
    """The scope of a recalled lot tracked by quantity, in units: per field holder its
    loose, quarantined, unsettled and cased units; returned = what the manufacturer holds
    (loose and in cases); outstanding also counts what the manufacturer shipped and its
    receiver has not settled; dispensed and destroyed count loose units and whole cases."""
    manufacturer = _orgs(sql, {maker})[maker]
    gone = units_gone(sql, lot_index)
    dispensed = {address: d for (address, _), (d, _) in gone.items()}
    holdings = lot_holdings(sql, lot_index)
    holders = [
        RecallHolder(OrgRef(h.address, h.name), h.total, dispensed.get(h.address, 0), h)
        for h in holdings
        if h.address != manufacturer.address
    ]
    held = {h.address for h in holdings}
    holders += [
        RecallHolder(OrgRef(address, name), 0, d)
        for (address, name), (d, _) in sorted(gone.items())
        if d and address not in held and address != manufacturer.address
    ]
    own = next((h for h in holdings if h.address == manufacturer.address), None)
    returned = 0 if own is None else own.active + own.quarantined + own.case_units
    shipped = 0 if own is None else own.in_transit
    destroyed = sum(x for _, x in gone.values())
    return RecallScope(
        recall_id,
        lot_index,
        level,
        is_open,
        manufacturer,
        holders,
        sum(h.outstanding for h in holders) + shipped,
        returned,
        destroyed,
        by_quantity=True,
    )


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """What a verification answer rests on: the item's current state, its lot and product,
    and the chain reference of the last event that changed it."""

    item_key: bytes
    code: str
    is_container: bool
    holder: OrgRef
    status: ItemStatus
    parent: bytes | None
    gtin: str | None
    lot_number: str | None
    expiry: int | None
    active_recall: int | None
    device_class: int | None
    manufacturer: OrgRef | None
    last_block: int
    last_tx_hash: bytes
    last_log_index: int


def item_facts(conn: Connection, item_key: bytes) -> ItemFacts | None:
    """The current facts about one item, or None for an unknown id (a suspect code)."""
    sql = Sql(conn)
    rows = sql.rows(
        "SELECT i.id, i.code, i.is_container, i.holder_id, i.status, p.item_key, l.gtin, "
        "l.lot_number, l.expiry, l.active_recall, d.device_class, d.manufacturer_id "
        "FROM items i LEFT JOIN items p ON p.id = i.parent_id "
        "LEFT JOIN lots l ON l.lot_index = i.lot_index "
        "LEFT JOIN products d ON d.gtin = l.gtin WHERE i.item_key = ?",
        (item_key,),
    )
    if not rows:
        return None
    (id_, code, is_container, holder, status, parent, gtin, number, expiry, recall, cls, maker) = (
        rows[0]
    )
    last = sql.rows(
        "SELECT e.block_number, l.tx_hash, e.log_index FROM item_events e "
        "JOIN processed_logs l ON l.block_number = e.block_number AND l.log_index = e.log_index "
        "WHERE e.item_id = ? ORDER BY e.block_number DESC, e.log_index DESC LIMIT 1",
        (id_,),
    )[0]
    orgs = _orgs(sql, {int(holder)} | ({int(maker)} if maker is not None else set()))
    return ItemFacts(
        item_key,
        str(code),
        bool(is_container),
        orgs[int(holder)],
        ItemStatus(status),
        None if parent is None else bytes(parent),
        None if gtin is None else str(gtin),
        None if number is None else str(number),
        None if expiry is None else int(expiry),
        None if recall is None else int(recall),
        None if cls is None else int(cls),
        None if maker is None else orgs[int(maker)],
        int(last[0]),
        bytes(last[1]),
        int(last[2]),
    )


def item_exists(conn: Connection, item_key: bytes) -> bool:
    return Sql(conn).one("SELECT id FROM items WHERE item_key = ?", (item_key,)) is not None


def held_by(conn: Connection, item_key: bytes, address: str) -> bool:
    """Whether the member `address` holds or has held the item (at any custody step)."""
    found = Sql(conn).one(
        "SELECT 1 FROM items i JOIN item_events e ON e.item_id = i.id "
        "JOIN organisations o ON o.id = e.holder_id "
        "WHERE i.item_key = ? AND o.address = ? LIMIT 1",
        (item_key, address),
    )
    return found is not None


def lot_reached(conn: Connection, lot_index: int, address: str) -> bool:
    """Whether any unit of the lot ever reached the member `address`: an item of it, or a
    loose quantity (a `lot_balances` row stays once the member held some)."""
    found = Sql(conn).one(
        "SELECT 1 FROM organisations o WHERE o.address = ? AND ("
        " EXISTS (SELECT 1 FROM lot_reach r WHERE r.lot_index = ? AND r.organisation_id = o.id)"
        " OR EXISTS (SELECT 1 FROM lot_balances b"
        "  WHERE b.lot_index = ? AND b.organisation_id = o.id))",
        (address, lot_index, lot_index),
    )
    return found is not None
