"""The few indexer reads the partner pages need beyond `indexer.queries`: a member's
products and lots, its company prefixes, the other members it may ship to, its shipments,
and what a shipment carries (units per lot, per shipped unit or container)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from sdk.model import Role, ShipmentStatus

__all__ = [
    "LotRow",
    "ProductRow",
    "ShippedLine",
    "company_prefixes",
    "lots_of",
    "organisation_name",
    "partners",
    "products_of",
    "shipment_lines",
    "shipments_of",
]


@dataclass(frozen=True, slots=True)
class ProductRow:
    gtin: str
    device_class: int
    temp_min: int
    temp_max: int
    certificate_hash: bytes
    registration_expiry: int


@dataclass(frozen=True, slots=True)
class LotRow:
    lot_key: bytes
    gtin: str
    lot_number: str
    production_date: int
    expiry: int
    recalled: bool
    units: int


def products_of(conn: Connection, address: str) -> list[ProductRow]:
    rows = conn.execute(
        text(
            "SELECT p.gtin, p.device_class, p.temp_min, p.temp_max, p.certificate_hash, "
            "p.registration_expiry FROM products p JOIN organisations o "
            "ON o.id = p.manufacturer_id WHERE o.address = :a ORDER BY p.gtin"
        ),
        {"a": address},
    ).all()
    return [
        ProductRow(str(r[0]), int(r[1]), int(r[2]), int(r[3]), bytes(r[4]), int(r[5])) for r in rows
    ]


def lots_of(conn: Connection, address: str) -> list[LotRow]:
    rows = conn.execute(
        text(
            "SELECT l.lot_key, l.gtin, l.lot_number, l.production_date, l.expiry, "
            "l.active_recall, (SELECT COUNT(*) FROM items i WHERE i.lot_index = l.lot_index) "
            "FROM lots l JOIN products p ON p.gtin = l.gtin "
            "JOIN organisations o ON o.id = p.manufacturer_id WHERE o.address = :a "
            "ORDER BY l.gtin, l.lot_number"
        ),
        {"a": address},
    ).all()
    return [
        LotRow(bytes(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]), bool(r[5]), int(r[6]))
        for r in rows
    ]


def company_prefixes(conn: Connection, address: str) -> list[str]:
    rows = conn.execute(
        text(
            "SELECT c.prefix FROM company_prefixes c JOIN organisations o "
            "ON o.id = c.organisation_id WHERE o.address = :a ORDER BY c.prefix"
        ),
        {"a": address},
    ).all()
    return [str(r[0]) for r in rows]


@dataclass(frozen=True, slots=True)
class Partner:
    address: str
    name: str
    role: Role


def organisation_name(conn: Connection, address: str) -> str | None:
    row = conn.execute(
        text("SELECT name FROM organisations WHERE address = :a"), {"a": address}
    ).first()
    return None if row is None else str(row[0])


def partners(conn: Connection, *, excluding: str) -> list[Partner]:
    """Active members other than `excluding` and the regulator: who may receive goods."""
    rows = conn.execute(
        text(
            "SELECT address, name, role FROM organisations WHERE status = 1 "
            "AND address <> :a AND role <> :regulator ORDER BY role, name"
        ),
        {"a": excluding, "regulator": int(Role.REGULATOR)},
    ).all()
    return [Partner(str(r[0]), str(r[1]), Role(int(r[2]))) for r in rows]


@dataclass(frozen=True, slots=True)
class ShipmentRow:
    shipment_id: int
    sender: str
    receiver: str
    status: ShipmentStatus
    item_count: int
    sent_block: int
    accepted_count: int | None
    rejected_count: int | None
    temp_min: int | None
    temp_max: int | None
    excursion_seconds: int | None
    quarantined: bool | None


def shipments_of(
    conn: Connection, address: str, *, inbound: bool, limit: int = 50
) -> list[ShipmentRow]:
    """The member's inbound (or outbound) shipments, newest first, with party names."""
    side = "r" if inbound else "s"
    rows = conn.execute(
        text(
            "SELECT sh.id, s.name, r.name, sh.status, sh.item_count, sh.sent_block, "
            "sh.accepted_count, sh.rejected_count, sh.temp_min, sh.temp_max, "
            "sh.excursion_seconds, sh.quarantined FROM shipments sh "
            "JOIN organisations s ON s.id = sh.sender_id "
            "JOIN organisations r ON r.id = sh.receiver_id "
            f"WHERE {side}.address = :a ORDER BY sh.id DESC LIMIT :limit"
        ),
        {"a": address, "limit": limit},
    ).all()
    return [
        ShipmentRow(
            int(r[0]),
            str(r[1]),
            str(r[2]),
            ShipmentStatus(int(r[3])),
            int(r[4]),
            int(r[5]),
            r[6],
            r[7],
            r[8],
            r[9],
            r[10],
            None if r[11] is None else bool(r[11]),
        )
        for r in rows
    ]


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
    """For each shipped item (unit, case or pallet), its units grouped by lot."""
    if not item_keys:
        return []
    query = text(
        "WITH RECURSIVE tree(id, top_id) AS ("
        " SELECT id, id FROM items WHERE item_key IN :keys"
        " UNION ALL SELECT c.id, t.top_id FROM tree t JOIN items c ON c.parent_id = t.id"
        ") SELECT top.item_key, top.code, top.is_container, l.gtin, l.lot_number, l.expiry, "
        "COUNT(*) FROM tree t JOIN items i ON i.id = t.id JOIN items top ON top.id = t.top_id "
        "JOIN lots l ON l.lot_index = i.lot_index WHERE i.is_container = :no "
        "GROUP BY top.item_key, top.code, top.is_container, l.gtin, l.lot_number, l.expiry "
        "ORDER BY top.code, l.gtin, l.lot_number"
    ).bindparams(bindparam("keys", expanding=True))
    rows = conn.execute(query, {"keys": item_keys, "no": False}).all()
    found = [
        ShippedLine(bytes(r[0]), str(r[1]), bool(r[2]), r[3], r[4], r[5], int(r[6])) for r in rows
    ]
    empty = set(item_keys) - {line.item_key for line in found}
    for key in empty:  # an empty case: still listed, so it can be rejected
        row = conn.execute(
            text("SELECT code, is_container FROM items WHERE item_key = :k"), {"k": key}
        ).first()
        if row is not None:
            found.append(ShippedLine(key, str(row[0]), bool(row[1]), None, None, None, 0))
    return found
