"""The read queries behind the inspection exports (`domain.inspection_exports`): a member's
shipments settled or sent in a period with the times of their blocks, what each shipment
carried per lot (units, cases and loose quantities, shipped / received / rejected), the
adverse events a member reported in a period and the recalls opened in a period.

Periods are half-open unix-second ranges `[start, end)` over the block timestamps.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Connection

from medledger.indexer.db import Sql
from medledger.indexer.items import EventKind
from medledger.indexer.queries.epcis import block_rows
from medledger.indexer.queries.trace import OrgRef
from medledger.sdk.model import ShipmentStatus

__all__ = [
    "InspectionShipment",
    "LotLine",
    "PeriodAdverseEvent",
    "PeriodRecall",
    "Side",
    "adverse_events_in",
    "group_lines",
    "recall_reason_hash",
    "recalls_opened_in",
    "shipment_lots",
    "shipments_in",
]

Side = Literal["inbound", "outbound", "settled"]
_MOVES = (int(EventKind.SHIPPED), int(EventKind.RECEIVED), int(EventKind.REJECTED))


@dataclass(frozen=True, slots=True)
class InspectionShipment:
    shipment_id: int
    sender: OrgRef
    receiver: OrgRef
    status: ShipmentStatus
    sent_at: int
    settled_at: int | None
    accepted_count: int | None
    rejected_count: int | None
    temp_min: int | None  # tenths of a degree, as the contract keeps them
    temp_max: int | None
    excursion_seconds: int | None
    quarantined: bool | None


_SHIPMENTS = (
    "SELECT sh.id, s.address, s.name, r.address, r.name, sh.status, sb.timestamp, "
    "xb.timestamp, sh.accepted_count, sh.rejected_count, sh.temp_min, sh.temp_max, "
    "sh.excursion_seconds, sh.quarantined FROM shipments sh "
    "JOIN organisations s ON s.id = sh.sender_id JOIN organisations r ON r.id = sh.receiver_id "
    "JOIN blocks sb ON sb.number = sh.sent_block "
    "LEFT JOIN blocks xb ON xb.number = sh.settled_block "
)


_BY_SETTLED = "AND xb.timestamp >= ? AND xb.timestamp < ? ORDER BY xb.timestamp, sh.id LIMIT ?"
_BY_SENT = "AND sb.timestamp >= ? AND sb.timestamp < ? ORDER BY sb.timestamp, sh.id LIMIT ?"


def shipments_in(
    conn: Connection, address: str, *, side: Side, start: int, end: int, limit: int
) -> list[InspectionShipment]:
    """Oldest first: `inbound`, the shipments `address` settled (received or rejected) in the
    period, by settlement time; `outbound`, those it sent in the period, by sending time;
    `settled`, those it sent or received that were settled in the period (each side on its
    own index, then merged)."""
    if side == "settled":
        both = {
            s.shipment_id: s
            for way in ("r.address = ? ", "s.address = ? ")
            for s in _shipments(conn, way + _BY_SETTLED, (address, start, end, limit))
        }
        ordered = sorted(both.values(), key=lambda s: (s.settled_at or 0, s.shipment_id))
        return ordered[:limit]
    where = "r.address = ? " + _BY_SETTLED if side == "inbound" else "s.address = ? " + _BY_SENT
    return _shipments(conn, where, (address, start, end, limit))


def _shipments(conn: Connection, where: str, params: tuple[Any, ...]) -> list[InspectionShipment]:
    rows = Sql(conn).rows(_SHIPMENTS + "WHERE " + where, params)
    return [
        InspectionShipment(
            shipment_id=int(r[0]),
            sender=OrgRef(str(r[1]), str(r[2])),
            receiver=OrgRef(str(r[3]), str(r[4])),
            status=ShipmentStatus(int(r[5])),
            sent_at=int(r[6]),
            settled_at=None if r[7] is None else int(r[7]),
            accepted_count=r[8],
            rejected_count=r[9],
            temp_min=r[10],
            temp_max=r[11],
            excursion_seconds=r[12],
            quarantined=None if r[13] is None else bool(r[13]),
        )
        for r in rows
    ]


@dataclass(slots=True)
class LotLine:
    """The units of one lot that one shipment moved one way (shipped, received, rejected)."""

    shipment_id: int
    kind: EventKind
    gtin: str
    lot_number: str
    production_date: int
    expiry: int
    quantity: int = 0
    serials: list[str] = field(default_factory=list)  # serialised units only


def shipment_lots(conn: Connection, shipment_ids: list[int]) -> list[LotLine]:
    """Per shipment, per way (shipped / received / rejected) and per lot: the units moved,
    counting serialised units, the units in cases and loose quantities, with the serials
    of serialised units.

    A shipment's items move in two blocks only (sent, settled), so `item_events` is read on
    its primary key, one row-id range per block (`blocks.first_event_id`, as the EPCIS
    reads do), and `lot_events` on the block number its key starts with."""
    if not shipment_ids:
        return []
    sql = Sql(conn)
    by_block: dict[int, set[int]] = defaultdict(set)
    marks = ", ".join("?" * len(shipment_ids))
    for shipment_id, sent, settled in sql.rows(
        f"SELECT id, sent_block, settled_block FROM shipments WHERE id IN ({marks})",
        tuple(shipment_ids),
    ):
        for block in (sent, settled):
            if block is not None:
                by_block[int(block)].add(int(shipment_id))
    found: list[tuple[Any, ...]] = []
    for block, ids in sorted(by_block.items()):
        rows_of_block, params = block_rows(sql, block)
        in_ids = ", ".join("?" * len(ids))
        found += sql.rows(
            "SELECT e.shipment_id, e.kind, l.lot_index, l.gtin, l.lot_number, "
            "l.production_date, l.expiry, i.code, cc.quantity FROM item_events e "
            "JOIN items i ON i.id = e.item_id LEFT JOIN case_contents cc ON cc.item_id = i.id "
            f"JOIN lots l ON l.lot_index = i.lot_index WHERE {rows_of_block} "
            f"AND e.shipment_id IN ({in_ids}) AND e.kind IN (?, ?, ?) AND i.is_container = ? "
            "ORDER BY e.id",
            (*params, *sorted(ids), *_MOVES, False),
        )
        found += sql.rows(
            "SELECT e.shipment_id, e.kind, l.lot_index, l.gtin, l.lot_number, "
            "l.production_date, l.expiry, NULL, e.quantity FROM lot_events e "
            "JOIN lots l ON l.lot_index = e.lot_index WHERE e.block_number = ? "
            f"AND e.shipment_id IN ({in_ids}) AND e.kind IN (?, ?, ?)",
            (block, *sorted(ids), *_MOVES),
        )
    lines: dict[tuple[int, int, int], LotLine] = {}
    for shipment_id, kind, lot_index, gtin, number, produced, expiry, code, quantity in found:
        key = (int(shipment_id), int(kind), int(lot_index))
        line = lines.get(key)
        if line is None:
            line = lines[key] = LotLine(
                key[0],
                EventKind(key[1]),
                str(gtin),
                str(number),
                int(produced),
                int(expiry),
            )
        if quantity is None:  # a serialised unit
            line.quantity += 1
            line.serials.append(str(code))
        else:  # a case of the lot, or a loose quantity
            line.quantity += int(quantity)
    for line in lines.values():
        line.serials.sort()
    return sorted(lines.values(), key=lambda x: (x.shipment_id, x.kind, x.gtin, x.lot_number))


@dataclass(frozen=True, slots=True)
class PeriodAdverseEvent:
    event_id: int
    reporter: OrgRef
    severity: int
    subject: bytes
    reported_at: int
    gtin: str | None
    lot_number: str | None
    serial: str | None  # when the report names a unit
    report_hash: bytes  # the sealed report's commitment


def adverse_events_in(
    conn: Connection, member: str | None, *, start: int, end: int, limit: int
) -> list[PeriodAdverseEvent]:
    """Adverse events reported in the period with the lot (and unit) they name, oldest
    first: those `member` reported or that name a product it makes (every one when None)."""
    who = (
        ""
        if member is None
        else "(o.address = ? OR EXISTS (SELECT 1 FROM products p JOIN organisations m "
        "ON m.id = p.manufacturer_id WHERE p.gtin = COALESCE(il.gtin, l.gtin) "
        "AND m.address = ?)) AND "
    )
    rows = Sql(conn).rows(
        "SELECT a.id, o.address, o.name, a.severity, a.subject, b.timestamp, "
        "COALESCE(il.gtin, l.gtin), COALESCE(il.lot_number, l.lot_number), i.code, a.report_hash "
        "FROM adverse_events a JOIN organisations o ON o.id = a.reporter_id "
        "JOIN blocks b ON b.number = a.block_number "
        "LEFT JOIN items i ON i.item_key = a.subject "
        "LEFT JOIN lots il ON il.lot_index = i.lot_index "
        "LEFT JOIN lots l ON l.lot_key = a.subject "
        f"WHERE {who}b.timestamp >= ? AND b.timestamp < ? ORDER BY b.timestamp, a.id LIMIT ?",
        (*(() if member is None else (member, member)), start, end, limit),
    )
    return [
        PeriodAdverseEvent(
            event_id=int(r[0]),
            reporter=OrgRef(str(r[1]), str(r[2])),
            severity=int(r[3]),
            subject=bytes(r[4]),
            reported_at=int(r[5]),
            gtin=r[6],
            lot_number=r[7],
            serial=r[8],
            report_hash=bytes(r[9]),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class PeriodRecall:
    recall_id: int
    lot_index: int
    gtin: str
    lot_number: str
    level: int
    initiator: OrgRef
    opened_at: int
    closed_at: int | None
    reason_hash: bytes  # the sealed notice's commitment


def recalls_opened_in(conn: Connection, *, start: int, end: int, limit: int) -> list[PeriodRecall]:
    """Recalls opened in the period, oldest first (the domain keeps those a member may read)."""
    rows = Sql(conn).rows(
        "SELECT r.id, r.lot_index, l.gtin, l.lot_number, r.level, o.address, o.name, "
        "ob.timestamp, cb.timestamp, r.reason_hash "
        "FROM recalls r JOIN lots l ON l.lot_index = r.lot_index "
        "JOIN organisations o ON o.id = r.initiator_id "
        "JOIN blocks ob ON ob.number = r.opened_block "
        "LEFT JOIN blocks cb ON cb.number = r.closed_block "
        "WHERE ob.timestamp >= ? AND ob.timestamp < ? ORDER BY ob.timestamp, r.id LIMIT ?",
        (start, end, limit),
    )
    return [
        PeriodRecall(
            recall_id=int(r[0]),
            lot_index=int(r[1]),
            gtin=str(r[2]),
            lot_number=str(r[3]),
            level=int(r[4]),
            initiator=OrgRef(str(r[5]), str(r[6])),
            opened_at=int(r[7]),
            closed_at=None if r[8] is None else int(r[8]),
            reason_hash=bytes(r[9]),
        )
        for r in rows
    ]


def recall_reason_hash(conn: Connection, recall_id: int) -> bytes | None:
    """The reasonHash a recall was opened with (its sealed notice's commitment)."""
    found = Sql(conn).one("SELECT reason_hash FROM recalls WHERE id = ?", (recall_id,))
    return None if found is None else bytes(found)


def group_lines(lines: list[LotLine]) -> dict[int, list[LotLine]]:
    """Lines by shipment id."""
    out: dict[int, list[LotLine]] = defaultdict(list)
    for line in lines:
        out[line.shipment_id].append(line)
    return dict(out)
