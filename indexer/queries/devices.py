"""Devices in the read model: a manufacturer's products and lots, and its company
prefixes (what the catalogue, labelling and packing pages list)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from medledger.sdk.model import ItemStatus

__all__ = [
    "LotRow",
    "ProductRow",
    "company_prefixes",
    "lots_of",
    "products_of",
    "unit_statuses",
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
        ProductRow(
            gtin=str(r.gtin),
            device_class=int(r.device_class),
            temp_min=int(r.temp_min),
            temp_max=int(r.temp_max),
            certificate_hash=bytes(r.certificate_hash),
            registration_expiry=int(r.registration_expiry),
        )
        for r in rows
    ]


def lots_of(conn: Connection, address: str) -> list[LotRow]:
    rows = conn.execute(
        text(
            "SELECT l.lot_key, l.gtin, l.lot_number, l.production_date, l.expiry, "
            "l.active_recall, (SELECT COUNT(*) FROM items i WHERE i.lot_index = l.lot_index) "
            "AS units FROM lots l JOIN products p ON p.gtin = l.gtin "
            "JOIN organisations o ON o.id = p.manufacturer_id WHERE o.address = :a "
            "ORDER BY l.gtin, l.lot_number"
        ),
        {"a": address},
    ).all()
    return [
        LotRow(
            lot_key=bytes(r.lot_key),
            gtin=str(r.gtin),
            lot_number=str(r.lot_number),
            production_date=int(r.production_date),
            expiry=int(r.expiry),
            recalled=bool(r.active_recall),
            units=int(r.units),
        )
        for r in rows
    ]


def unit_statuses(
    conn: Connection, lot_key: bytes, item_keys: Sequence[bytes]
) -> dict[bytes, ItemStatus]:
    """The status of each of `item_keys` that was commissioned in the lot `lot_key`
    (a key missing from the answer was never commissioned there)."""
    if not item_keys:
        return {}
    query = text(
        "SELECT i.item_key, i.status FROM items i JOIN lots l ON l.lot_index = i.lot_index "
        "WHERE l.lot_key = :lot AND i.item_key IN :keys"
    ).bindparams(bindparam("keys", expanding=True))
    rows = conn.execute(query, {"lot": lot_key, "keys": list(item_keys)}).all()
    return {bytes(r.item_key): ItemStatus(int(r.status)) for r in rows}


def company_prefixes(conn: Connection, address: str) -> list[str]:
    rows = conn.execute(
        text(
            "SELECT c.prefix FROM company_prefixes c JOIN organisations o "
            "ON o.id = c.organisation_id WHERE o.address = :a ORDER BY c.prefix"
        ),
        {"a": address},
    ).all()
    return [str(r.prefix) for r in rows]
