"""Recall queries: the recall list, one recall's lot and dates, its scope per holder, the
open recalls reaching a holder's stock, whether a lot ever reached an organisation, and
recalls counted by level.

The scope (`recall_scope`, a forward trace of the recalled lot) is written beside the
other traces in `indexer.queries.trace` and read from here. The deadlines of the recall
levels are the domain's (`domain.recalls.notice_deadline`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from medledger.indexer.db import Sql
from medledger.indexer.items import EventKind
from medledger.indexer.queries.lot_quantities import units_gone
from medledger.indexer.queries.trace import RecallHolder, RecallScope, recall_scope
from medledger.indexer.queries.trace import lot_reached as reached
from medledger.indexer.queries.verification import Reader
from medledger.sdk.model import ItemStatus

__all__ = [
    "RecallDates",
    "RecallHolder",
    "RecallRow",
    "RecallScope",
    "ReturnedFrom",
    "lot_reached",
    "open_recalls_holding",
    "recall_dates",
    "recall_rows",
    "recall_scope",
    "recalls_by_level",
    "ChainAck",
    "ClosedRecallLeft",
    "closed_recall_outstanding",
    "NoticeVersion",
    "chain_acks",
    "destroyed_by_holder",
    "notice_versions",
    "returned_from_field",
]


@dataclass(frozen=True, slots=True)
class RecallRow:
    recall_id: int
    level: int
    gtin: str
    lot: str
    opened_at: int  # unix seconds of the opening block
    closed_block: int | None

    @property
    def open(self) -> bool:
        return self.closed_block is None


def recall_rows(
    conn: Connection, *, limit: int = 200, manufacturer: str | None = None
) -> list[RecallRow]:
    """Every recall, newest first, with its lot and opening time; only those of lots made
    by `manufacturer` (an address) if given."""
    where, params = (
        ("", (limit,))
        if manufacturer is None
        else (
            "WHERE l.gtin IN (SELECT p.gtin FROM products p JOIN organisations o "
            "ON o.id = p.manufacturer_id WHERE o.address = ?) ",
            (manufacturer, limit),
        )
    )
    rows = Sql(conn).rows(
        "SELECT r.id, r.level, l.gtin, l.lot_number, b.timestamp, r.closed_block "
        "FROM recalls r JOIN lots l ON l.lot_index = r.lot_index "
        f"JOIN blocks b ON b.number = r.opened_block {where}ORDER BY r.id DESC LIMIT ?",
        params,
    )
    return [
        RecallRow(
            recall_id=int(recall_id),
            level=int(level),
            gtin=str(gtin),
            lot=str(lot),
            opened_at=int(opened_at),
            closed_block=None if closed is None else int(closed),
        )
        for recall_id, level, gtin, lot, opened_at, closed in rows
    ]


@dataclass(frozen=True, slots=True)
class RecallDates:
    gtin: str
    lot: str
    opened_at: int  # unix seconds of the opening block
    closed_at: int | None
    opened_block: int
    opened_tx: bytes | None  # None for recalls indexed before migration 0003


def recall_dates(conn: Connection, recall_id: int) -> RecallDates | None:
    """A recall's lot, the times of its opening and closing blocks, and its opening
    transaction; None for a recall the indexer does not hold."""
    rows = Sql(conn).rows(
        "SELECT l.gtin, l.lot_number, o.timestamp, c.timestamp, r.opened_block, "
        "r.opened_tx_hash FROM recalls r JOIN lots l ON l.lot_index = r.lot_index "
        "JOIN blocks o ON o.number = r.opened_block "
        "LEFT JOIN blocks c ON c.number = r.closed_block WHERE r.id = ?",
        (recall_id,),
    )
    if not rows:
        return None
    gtin, lot, opened_at, closed_at, opened_block, opened_tx = rows[0]
    return RecallDates(
        gtin=str(gtin),
        lot=str(lot),
        opened_at=int(opened_at),
        closed_at=None if closed_at is None else int(closed_at),
        opened_block=int(opened_block),
        opened_tx=None if opened_tx is None else bytes(opened_tx),
    )


def open_recalls_holding(conn: Connection, holder: str) -> list[int]:
    """Ids of the open recalls of lots whose units `holder` (an address) holds, as items
    or as loose quantities (held, or shipped and not yet settled), newest first."""
    rows = Sql(conn).rows(
        "SELECT r.id FROM recalls r WHERE r.closed_block IS NULL AND (EXISTS ("
        " SELECT 1 FROM items i JOIN organisations o ON o.id = i.holder_id"
        " WHERE i.lot_index = r.lot_index AND o.address = ?) OR EXISTS ("
        " SELECT 1 FROM lot_balances b JOIN organisations o ON o.id = b.organisation_id"
        " WHERE b.lot_index = r.lot_index AND o.address = ?"
        " AND b.active + b.quarantined + b.in_transit > 0)) ORDER BY r.id DESC",
        (holder, holder),
    )
    return [int(recall_id) for (recall_id,) in rows]


def lot_reached(conn: Connection, *, lot_index: int, organisation: str) -> bool:
    """Whether any unit of the lot ever reached `organisation` (an address), as an item or
    as a loose quantity."""
    return reached(conn, lot_index, organisation)


def recalls_by_level(conn: Connection) -> dict[int, tuple[int, int]]:
    """Recalls counted per level: level -> (open, closed), by level."""
    counts: dict[int, tuple[int, int]] = {}
    for level, is_open, count in Sql(conn).rows(
        "SELECT level, CASE WHEN closed_block IS NULL THEN 1 ELSE 0 END, COUNT(*) FROM recalls "
        "GROUP BY level, CASE WHEN closed_block IS NULL THEN 1 ELSE 0 END"
    ):
        opened, closed = counts.get(int(level), (0, 0))
        counts[int(level)] = (
            (opened + int(count), closed) if int(is_open) else (opened, closed + int(count))
        )
    return dict(sorted(counts.items()))


@dataclass(frozen=True, slots=True)
class ReturnedFrom:
    """Units of a lot the manufacturer received back, by the holder that sent them."""

    address: str
    name: str
    units: int


def returned_from_field(conn: Connection, lot_index: int) -> list[ReturnedFrom]:
    """Units of the lot that left its manufacturer and came back to it, per sender: items
    (not cases or pallets) received by the manufacturer on a shipment from another member,
    and loose quantities received the same way. Units the manufacturer never shipped are
    not here: a recall's progress counts only what left it."""
    sql = Sql(conn)
    maker = sql.one(
        "SELECT p.manufacturer_id FROM lots l JOIN products p ON p.gtin = l.gtin "
        "WHERE l.lot_index = ?",
        (lot_index,),
    )
    if maker is None:
        return []
    found: dict[tuple[str, str], int] = {}
    item_rows = sql.rows(
        "SELECT o.address, o.name, COUNT(DISTINCT e.item_id) FROM item_events e "
        "JOIN items i ON i.id = e.item_id JOIN shipments s ON s.id = e.shipment_id "
        "JOIN organisations o ON o.id = s.sender_id "
        "WHERE i.lot_index = ? AND i.is_container = ? AND e.kind = ? AND s.receiver_id = ? "
        "AND s.sender_id <> ? GROUP BY o.address, o.name",
        (lot_index, False, int(EventKind.RECEIVED), int(maker), int(maker)),
    )
    lot_rows = sql.rows(
        "SELECT o.address, o.name, SUM(m.quantity) FROM lot_events m "
        "JOIN shipments s ON s.id = m.shipment_id JOIN organisations o ON o.id = s.sender_id "
        "WHERE m.lot_index = ? AND m.kind = ? AND s.receiver_id = ? AND s.sender_id <> ? "
        "GROUP BY o.address, o.name",
        (lot_index, int(EventKind.RECEIVED), int(maker), int(maker)),
    )
    for address, name, units in [*item_rows, *lot_rows]:
        key = (str(address), str(name))
        found[key] = found.get(key, 0) + int(units or 0)
    return [ReturnedFrom(a, n, u) for (a, n), u in sorted(found.items()) if u]


def destroyed_by_holder(conn: Connection, lot_index: int) -> dict[str, ReturnedFrom]:
    """Units of the lot each member destroyed, by address (with its name): items (not cases
    or pallets), loose units and whole cases."""
    sql = Sql(conn)
    found: dict[str, ReturnedFrom] = {}

    def add(address: str, name: str, units: int) -> None:
        have = found.get(address)
        found[address] = ReturnedFrom(address, name, units + (0 if have is None else have.units))

    for address, name, units in sql.rows(
        "SELECT o.address, o.name, COUNT(*) FROM items i "
        "JOIN organisations o ON o.id = i.holder_id "
        "WHERE i.lot_index = ? AND i.is_container = ? AND i.status = ? GROUP BY o.address, o.name",
        (lot_index, False, int(ItemStatus.DESTROYED)),
    ):
        add(str(address), str(name), int(units))
    for (address, name), (_, destroyed) in units_gone(sql, lot_index).items():
        if destroyed:
            add(address, name, destroyed)
    return found


@dataclass(frozen=True, slots=True)
class NoticeVersion:
    """One version of a recall's notice: 1 is the opening's reasonHash, later ones
    `RecallUpdated`; `commitment` is the salted commitment of its sealed record."""

    version: int
    commitment: bytes
    at: int  # unix seconds of its block
    tx_hash: bytes | None


def notice_versions(conn: Connection, recall_id: int) -> list[NoticeVersion]:
    """Every version of the recall's notice, oldest first (empty for an unknown recall)."""
    sql = Sql(conn)
    first = sql.rows(
        "SELECT r.reason_hash, b.timestamp, r.opened_tx_hash FROM recalls r "
        "JOIN blocks b ON b.number = r.opened_block WHERE r.id = ?",
        (recall_id,),
    )
    if not first:
        return []
    commitment, at, tx = first[0]
    found = [NoticeVersion(1, bytes(commitment), int(at), None if tx is None else bytes(tx))]
    for version, commitment, at, tx in sql.rows(
        "SELECT v.version, v.commitment, b.timestamp, v.tx_hash FROM recall_notice_versions v "
        "JOIN blocks b ON b.number = v.block_number WHERE v.recall_id = ? ORDER BY v.version",
        (recall_id,),
    ):
        found.append(NoticeVersion(int(version), bytes(commitment), int(at), bytes(tx)))
    return found


@dataclass(frozen=True, slots=True)
class ChainAck:
    """A holder's signed acknowledgement (`RecallAcknowledged`)."""

    recall_id: int
    holder: str  # address
    commitment: bytes
    at: int  # unix seconds of its block
    tx_hash: bytes


def chain_acks(conn: Connection, recall_id: int) -> list[ChainAck]:
    """The recall's signed acknowledgements, oldest first (a holder may have several)."""
    return [
        ChainAck(recall_id, str(address), bytes(commitment), int(at), bytes(tx))
        for address, commitment, at, tx in Sql(conn).rows(
            "SELECT o.address, a.commitment, b.timestamp, a.tx_hash FROM recall_ack_events a "
            "JOIN organisations o ON o.id = a.holder_id JOIN blocks b ON b.number = a.block_number "
            "WHERE a.recall_id = ? ORDER BY a.block_number, a.log_index",
            (recall_id,),
        )
    ]


@dataclass(frozen=True, slots=True)
class ClosedRecallLeft:
    """A closed recall of a unit's lot that the unit was outstanding from: it had left the
    manufacturer before the recall closed and never came back to it since it opened."""

    recall_id: int
    level: int
    closed_block: int


def closed_recall_outstanding(sql: Reader, item_id: int) -> ClosedRecallLeft | None:
    """The newest closed recall of the unit's lot it is still outstanding from (held in the
    field, never returned to the manufacturer), or None."""
    rows = sql.rows(
        "SELECT r.id, r.level, r.closed_block FROM items i "
        "JOIN lots l ON l.lot_index = i.lot_index JOIN products p ON p.gtin = l.gtin "
        "JOIN recalls r ON r.lot_index = i.lot_index "
        "WHERE i.id = ? AND r.closed_block IS NOT NULL AND i.holder_id <> p.manufacturer_id "
        "AND i.status IN (?, ?, ?) "
        "AND EXISTS (SELECT 1 FROM item_events e WHERE e.item_id = i.id "
        " AND e.holder_id <> p.manufacturer_id AND e.block_number < r.closed_block) "
        "AND NOT EXISTS (SELECT 1 FROM item_events e WHERE e.item_id = i.id "
        " AND e.holder_id = p.manufacturer_id AND e.kind = ? AND e.block_number >= r.opened_block) "
        "ORDER BY r.id DESC LIMIT 1",
        (
            item_id,
            int(ItemStatus.ACTIVE),
            int(ItemStatus.IN_TRANSIT),
            int(ItemStatus.QUARANTINED),
            int(EventKind.RECEIVED),
        ),
    )
    if not rows:
        return None
    recall_id, level, closed = rows[0]
    return ClosedRecallLeft(int(recall_id), int(level), int(closed))
