"""What label sheets read: the cases of a lot (their status and how many units each holds)
and a logistic unit's holder, consignee and contents (units, cases, lots) for its SSCC label."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from medledger.sdk.model import ItemStatus

__all__ = ["CaseRow", "ContainerLabelRow", "case_rows", "container_label"]


@dataclass(frozen=True, slots=True)
class CaseRow:
    item_key: bytes
    status: ItemStatus
    package_gtin: str
    quantity: int


@dataclass(frozen=True, slots=True)
class ContainerLabelRow:
    sscc: str
    holder: str  # address
    holder_name: str
    status: ItemStatus
    consignee_name: str | None  # the receiver of its open shipment, if it is in transit
    units: int  # serialised units inside, at any depth
    cases: int
    base_units_in_cases: int
    lots: tuple[str, ...]  # lot numbers inside, sorted


def case_rows(conn: Connection, lot_key: bytes, item_keys: Sequence[bytes]) -> dict[bytes, CaseRow]:
    """The cases among `item_keys` packed from lot `lot_key` (a key missing: never packed there)."""
    if not item_keys:
        return {}
    query = text(
        "SELECT i.item_key, i.status, c.package_gtin, c.quantity FROM items i "
        "JOIN lots l ON l.lot_index = i.lot_index JOIN case_contents c ON c.item_id = i.id "
        "WHERE l.lot_key = :lot AND i.item_key IN :keys"
    ).bindparams(bindparam("keys", expanding=True))
    rows = conn.execute(query, {"lot": lot_key, "keys": list(item_keys)}).all()
    return {
        bytes(r.item_key): CaseRow(
            bytes(r.item_key), ItemStatus(int(r.status)), str(r.package_gtin), int(r.quantity)
        )
        for r in rows
    }


_TREE = (
    "WITH RECURSIVE tree(id) AS (SELECT id FROM items WHERE is_container = :t AND code = :s "
    "UNION ALL SELECT i.id FROM items i JOIN tree ON i.parent_id = tree.id) "
)


def container_label(conn: Connection, sscc: str) -> ContainerLabelRow | None:
    """The logistic unit `sscc` as its label shows it, or None if it was never created."""
    head = conn.execute(
        text(
            "SELECT i.id, i.status, o.address, o.name, "
            "(SELECT r.name FROM item_events e JOIN shipments s ON s.id = e.shipment_id "
            " JOIN organisations r ON r.id = s.receiver_id WHERE e.item_id = i.id "
            " AND s.status = 1 ORDER BY e.id DESC LIMIT 1) AS consignee "
            "FROM items i JOIN organisations o ON o.id = i.holder_id "
            "WHERE i.is_container = :t AND i.code = :s"
        ),
        {"t": True, "s": sscc},
    ).first()
    if head is None:
        return None
    inside = conn.execute(
        text(
            _TREE + "SELECT i.is_container, c.quantity, l.lot_number FROM tree "
            "JOIN items i ON i.id = tree.id LEFT JOIN case_contents c ON c.item_id = i.id "
            "LEFT JOIN lots l ON l.lot_index = i.lot_index WHERE i.id <> :root"
        ),
        {"t": True, "s": sscc, "root": head.id},
    ).all()
    contents = [r for r in inside if not r.is_container]
    cases = [r for r in contents if r.quantity is not None]
    return ContainerLabelRow(
        sscc=sscc,
        holder=str(head.address),
        holder_name=str(head.name),
        status=ItemStatus(int(head.status)),
        consignee_name=None if head.consignee is None else str(head.consignee),
        units=len(contents) - len(cases),
        cases=len(cases),
        base_units_in_cases=sum(int(r.quantity) for r in cases),
        lots=tuple(sorted({str(r.lot_number) for r in contents if r.lot_number is not None})),
    )
