"""Devices in the read model: a manufacturer's products and lots, and its company
prefixes (what the catalogue, labelling and packing pages list)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from medledger.sdk.model import ItemStatus, PackageLevelRecord

__all__ = [
    "LotRow",
    "MasterVersionRow",
    "ProductFactsRow",
    "ProductRow",
    "company_prefixes",
    "lots_of",
    "master_versions",
    "package_levels",
    "product_facts",
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
class ProductFactsRow:
    """A product's on-chain facts with its manufacturer's address and name."""

    gtin: str
    manufacturer: str
    manufacturer_name: str
    device_class: int
    temp_min: int
    temp_max: int
    registration_expiry: int
    serialised: bool
    block_number: int


@dataclass(frozen=True, slots=True)
class MasterVersionRow:
    gtin: str
    version: int
    master_hash: bytes
    block_number: int
    tx_hash: bytes
    timestamp: int | None


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


def product_facts(conn: Connection, gtin: str) -> ProductFactsRow | None:
    """The product `gtin` (a unit GTIN; see `package_levels` for packages), or None."""
    r = conn.execute(
        text(
            "SELECT p.gtin, o.address, o.name, p.device_class, p.temp_min, p.temp_max, "
            "p.registration_expiry, p.serialised, p.block_number FROM products p "
            "JOIN organisations o ON o.id = p.manufacturer_id WHERE p.gtin = :g"
        ),
        {"g": gtin},
    ).first()
    if r is None:
        return None
    return ProductFactsRow(
        gtin=str(r.gtin),
        manufacturer=str(r.address),
        manufacturer_name=str(r.name),
        device_class=int(r.device_class),
        temp_min=int(r.temp_min),
        temp_max=int(r.temp_max),
        registration_expiry=int(r.registration_expiry),
        serialised=bool(r.serialised),
        block_number=int(r.block_number),
    )


def package_levels(
    conn: Connection, *, base_gtin: str | None = None, package_gtin: str | None = None
) -> list[PackageLevelRecord]:
    """The package levels of unit product `base_gtin`, smallest first, or the one level
    `package_gtin`."""
    where, params = (
        ("package_gtin = :p", {"p": package_gtin})
        if package_gtin is not None
        else ("base_gtin = :b", {"b": base_gtin})
    )
    rows = conn.execute(
        text(
            "SELECT package_gtin, child_gtin, quantity, base_gtin, base_quantity "
            f"FROM package_levels WHERE {where} ORDER BY base_quantity, package_gtin"
        ),
        params,
    ).all()
    return [
        PackageLevelRecord(
            package_gtin=str(r.package_gtin),
            child_gtin=str(r.child_gtin),
            quantity=int(r.quantity),
            base_gtin=str(r.base_gtin),
            base_quantity=int(r.base_quantity),
        )
        for r in rows
    ]


def master_versions(conn: Connection, gtin: str) -> list[MasterVersionRow]:
    """Every anchored master-data version of `gtin`, oldest first, with its block time."""
    rows = conn.execute(
        text(
            "SELECT v.gtin, v.version, v.master_hash, v.block_number, v.tx_hash, b.timestamp "
            "FROM product_master_versions v LEFT JOIN blocks b ON b.number = v.block_number "
            "WHERE v.gtin = :g ORDER BY v.version"
        ),
        {"g": gtin},
    ).all()
    return [
        MasterVersionRow(
            gtin=str(r.gtin),
            version=int(r.version),
            master_hash=bytes(r.master_hash),
            block_number=int(r.block_number),
            tx_hash=bytes(r.tx_hash),
            timestamp=None if r.timestamp is None else int(r.timestamp),
        )
        for r in rows
    ]
