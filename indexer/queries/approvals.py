"""Qualification as the read model holds it: a member's licences (public registration data:
number, authority, scope, validity, warehouse address, province), and a member's
approved-supplier and approved-product files (首营企业/首营品种) with its approval policy.

A member's files are its own business: `approval_files` answers for one member only, and
the faces ask it for the signed-in member (or any, for a regulator).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection

from medledger.indexer.db import Sql
from medledger.indexer.queries.network import LicenceView
from medledger.sdk.model import ApprovalPolicy, LicenceKind

__all__ = [
    "ApprovalFiles",
    "ProductApprovalRow",
    "SupplierApprovalRow",
    "approval_files",
    "licences_of",
]


@dataclass(frozen=True, slots=True)
class SupplierApprovalRow:
    supplier: str
    name: str
    record: bytes  # commitment of the sealed qualification (or withdrawal) record
    approved: bool
    block_number: int


@dataclass(frozen=True, slots=True)
class ProductApprovalRow:
    gtin: str
    record: bytes
    approved: bool
    block_number: int


@dataclass(slots=True)
class ApprovalFiles:
    policy: ApprovalPolicy
    suppliers: list[SupplierApprovalRow] = field(default_factory=list)
    products: list[ProductApprovalRow] = field(default_factory=list)


def licences_of(conn: Connection, address: str) -> list[LicenceView]:
    """The licences attested for `address` (revoked ones included, flagged), by kind."""
    rows = Sql(conn).rows(
        "SELECT l.kind, l.class_mask, l.valid_until, l.revoked, l.number, l.authority, "
        "l.scope, l.warehouse_address, l.province FROM licences l "
        "JOIN organisations o ON o.id = l.organisation_id WHERE o.address = ? ORDER BY l.kind",
        (address,),
    )
    return [
        LicenceView(
            LicenceKind(int(kind)),
            tuple(c for c in (1, 2, 3) if int(mask) & (1 << c)),
            int(until),
            bool(revoked),
            str(number),
            str(authority),
            tuple(c for c in str(scope).split(",") if c),
            str(address_),
            str(province),
        )
        for kind, mask, until, revoked, number, authority, scope, address_, province in rows
    ]


def approval_files(conn: Connection, member: str, *, limit: int = 500) -> ApprovalFiles:
    """The approval policy and files of `member` (approved and withdrawn entries, newest
    first); an unknown member has policy Off and empty files."""
    sql = Sql(conn)
    policy = sql.one("SELECT approval_policy FROM organisations WHERE address = ?", (member,))
    files = ApprovalFiles(ApprovalPolicy(int(policy or 0)))
    for supplier, name, record, approved, block in sql.rows(
        "SELECT s.address, s.name, a.record, a.approved, a.block_number "
        "FROM supplier_approvals a JOIN organisations m ON m.id = a.organisation_id "
        "JOIN organisations s ON s.id = a.supplier_id WHERE m.address = ? "
        "ORDER BY a.block_number DESC, s.address LIMIT ?",
        (member, limit),
    ):
        files.suppliers.append(
            SupplierApprovalRow(str(supplier), str(name), bytes(record), bool(approved), int(block))
        )
    for gtin, record, approved, block in sql.rows(
        "SELECT a.gtin, a.record, a.approved, a.block_number FROM product_approvals a "
        "JOIN organisations m ON m.id = a.organisation_id WHERE m.address = ? "
        "ORDER BY a.block_number DESC, a.gtin LIMIT ?",
        (member, limit),
    ):
        files.products.append(
            ProductApprovalRow(str(gtin), bytes(record), bool(approved), int(block))
        )
    return files
