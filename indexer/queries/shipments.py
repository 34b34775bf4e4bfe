"""Shipments in the read model: one shipment, a member's shipments (inbound, outbound or
both), the parties of several shipments, and what a shipment carries (its units per lot,
per shipped unit or container)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from medledger.indexer.queries.trace import OrgRef
from medledger.sdk.model import ShipmentStatus

__all__ = [
    "ShipmentRow",
    "ShippedLine",
    "shipment",
    "shipment_lines",
    "shipment_parties",
    "shipments_of",
]

Side = Literal["inbound", "outbound", "either"]

_SELECT = (
    "SELECT sh.id, s.address AS sender_address, s.name AS sender_name, "
    "r.address AS receiver_address, r.name AS receiver_name, sh.status, sh.item_count, "
    "sh.document_hash, sh.sent_block, sh.settled_block, sh.accepted_count, "
    "sh.rejected_count, sh.temp_min, sh.temp_max, sh.excursion_seconds, sh.quarantined, "
    "sb.timestamp AS sent_at, tb.timestamp AS settled_at "
    "FROM shipments sh JOIN organisations s ON s.id = sh.sender_id "
    "JOIN organisations r ON r.id = sh.receiver_id "
    "LEFT JOIN blocks sb ON sb.number = sh.sent_block "
    "LEFT JOIN blocks tb ON tb.number = sh.settled_block "
)
_SIDES: dict[Side, str] = {
    "inbound": "r.address = :a",
    "outbound": "s.address = :a",
    "either": "s.address = :a OR r.address = :a",
}


@dataclass(frozen=True, slots=True)
class ShipmentRow:
    shipment_id: int
    sender: OrgRef
    receiver: OrgRef
    status: ShipmentStatus
    item_count: int
    document_hash: bytes
    sent_block: int
    settled_block: int | None
    accepted_count: int | None
    rejected_count: int | None
    temp_min: int | None
    temp_max: int | None
    excursion_seconds: int | None
    quarantined: bool | None
    sent_at: int | None = None  # unix time of the sending block
    settled_at: int | None = None


def _row(r: Any) -> ShipmentRow:
    return ShipmentRow(
        shipment_id=int(r.id),
        sender=OrgRef(str(r.sender_address), str(r.sender_name)),
        receiver=OrgRef(str(r.receiver_address), str(r.receiver_name)),
        status=ShipmentStatus(int(r.status)),
        item_count=int(r.item_count),
        document_hash=bytes(r.document_hash),
        sent_block=int(r.sent_block),
        settled_block=r.settled_block,
        accepted_count=r.accepted_count,
        rejected_count=r.rejected_count,
        temp_min=r.temp_min,
        temp_max=r.temp_max,
        excursion_seconds=r.excursion_seconds,
        quarantined=None if r.quarantined is None else bool(r.quarantined),
        sent_at=None if r.sent_at is None else int(r.sent_at),
        settled_at=None if r.settled_at is None else int(r.settled_at),
    )


def shipment(conn: Connection, shipment_id: int) -> ShipmentRow | None:
    row = conn.execute(text(_SELECT + "WHERE sh.id = :id"), {"id": shipment_id}).first()
    return None if row is None else _row(row)


def shipments_of(
    conn: Connection,
    address: str,
    *,
    side: Side,
    limit: int = 50,
    offset: int = 0,
    status: ShipmentStatus | None = None,
    since: int | None = None,
) -> list[ShipmentRow]:
    """The member's shipments on `side` (received, sent or both), newest first; only those
    in `status`, and only those sent at or after unix time `since`, when given."""
    where = f"({_SIDES[side]})"
    params: dict[str, Any] = {"a": address, "limit": limit, "offset": offset}
    if status is not None:
        where += " AND sh.status = :status"
        params["status"] = int(status)
    if since is not None:
        where += " AND sb.timestamp >= :since"
        params["since"] = since
    rows = conn.execute(
        text(_SELECT + f"WHERE {where} ORDER BY sh.id DESC LIMIT :limit OFFSET :offset"), params
    ).all()
    return [_row(r) for r in rows]


def shipment_parties(conn: Connection, shipment_ids: set[int]) -> dict[int, tuple[OrgRef, OrgRef]]:
    """(sender, receiver) of each shipment."""
    if not shipment_ids:
        return {}
    query = text(_SELECT + "WHERE sh.id IN :ids").bindparams(bindparam("ids", expanding=True))
    rows = conn.execute(query, {"ids": sorted(shipment_ids)}).all()
    return {r.shipment_id: (r.sender, r.receiver) for r in map(_row, rows)}


@dataclass(frozen=True, slots=True)
class ShippedLine:
    """One shipped unit or container with the units of one lot inside it."""

    item_key: bytes
    code: str
    is_container: bool
    gtin: str | None
    lot_number: str | None
    expiry: int | None
    units: int


def shipment_lines(conn: Connection, item_keys: list[bytes]) -> list[ShippedLine]:
    """For each shipped item (unit, case or pallet), its units grouped by lot (a case of a
    lot-tracked product counts the units it holds)."""
    if not item_keys:
        return []
    query = text(
        "WITH RECURSIVE tree(id, top_id) AS ("
        " SELECT id, id FROM items WHERE item_key IN :keys"
        " UNION ALL SELECT c.id, t.top_id FROM tree t JOIN items c ON c.parent_id = t.id"
        ") SELECT top.item_key, top.code, top.is_container, l.gtin, l.lot_number, l.expiry, "
        "SUM(COALESCE(cc.quantity, 1)) AS units FROM tree t JOIN items i ON i.id = t.id "
        "JOIN items top ON top.id = t.top_id "
        "LEFT JOIN case_contents cc ON cc.item_id = i.id "
        "JOIN lots l ON l.lot_index = i.lot_index WHERE i.is_container = :no "
        "GROUP BY top.item_key, top.code, top.is_container, l.gtin, l.lot_number, l.expiry "
        "ORDER BY top.code, l.gtin, l.lot_number"
    ).bindparams(bindparam("keys", expanding=True))
    rows = conn.execute(query, {"keys": item_keys, "no": False}).all()
    found = [
        ShippedLine(
            item_key=bytes(r.item_key),
            code=str(r.code),
            is_container=bool(r.is_container),
            gtin=r.gtin,
            lot_number=r.lot_number,
            expiry=r.expiry,
            units=int(r.units),
        )
        for r in rows
    ]
    empty = set(item_keys) - {line.item_key for line in found}
    for key in empty:  # an empty case: still listed, so it can be rejected
        row = conn.execute(
            text("SELECT code, is_container FROM items WHERE item_key = :k"), {"k": key}
        ).first()
        if row is not None:
            found.append(
                ShippedLine(key, str(row.code), bool(row.is_container), None, None, None, 0)
            )
    return found
