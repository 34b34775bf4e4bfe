"""Qualification files (首营企业/首营品种): a member approves a supplier or a product before
it buys from or of it, keeping the file as a sealed record, and sets what the ledger does
with goods outside its files (policy Off, Hold or Refuse, enforced by Items.ship).

An approval is a `RecordKind.QUALIFICATION` record (`domain.records`) sealed for the member,
the supplier (or, for a product, its manufacturer) and the regulator. Its body holds what
the member checked: the supplier's licences as attested on chain (number, issuing
authority, business scope, validity, warehouse address, province), the qualification
documents it attached (licence copy, registration-certificate copy, authorisation letter:
ids of documents in the encrypted document store that the member may read, with their
on-chain hashes), the decision, a note and who decided. The record's salted commitment
is what Partners.approveSupplier/approveProduct put on chain; a withdrawal is sealed the
same way.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from eth_utils import to_checksum_address
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from medledger.domain import documents, records
from medledger.domain.auth import Member
from medledger.domain.devices import member_ledger
from medledger.domain.errors import NotFound, Unprocessable
from medledger.domain.orders import report
from medledger.domain.partner_schemas import OperationOut
from medledger.domain.read_your_writes import settled
from medledger.domain.services import Services
from medledger.indexer.queries.approvals import ApprovalFiles, approval_files, licences_of
from medledger.indexer.queries.counterparties import organisation_name
from medledger.indexer.queries.network import LicenceView
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import ApprovalPolicy

__all__ = [
    "ApprovalIn",
    "DocumentRef",
    "PolicyName",
    "ProductApprovalIn",
    "SupplierApprovalIn",
    "approve_product",
    "approve_supplier",
    "files",
    "licence_body",
    "set_policy",
    "supplier_licences",
    "withdraw_product",
    "withdraw_supplier",
]

PolicyName = Literal["off", "hold", "refuse"]
DocumentKind = Literal["licence", "registration_certificate", "authorisation_letter", "other"]
DocumentId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
Note = Annotated[str, Field(max_length=2000)]


class DocumentRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document_id: DocumentId
    kind: DocumentKind


class ApprovalIn(BaseModel):
    """What the approving member attaches: qualification documents it may read, a note, and
    who decided (the signed-in user's name, for the file)."""

    model_config = ConfigDict(extra="forbid")
    documents: Annotated[list[DocumentRef], Field(max_length=20)] = []
    note: Note = ""
    decided_by: Annotated[str, Field(max_length=200)] = ""


class SupplierApprovalIn(ApprovalIn):
    counterparty: Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="supplier")]


class ProductApprovalIn(ApprovalIn):
    gtin: Annotated[str, Field(pattern=r"^[0-9]{14}$", description="GTIN-14")]


def licence_body(licence: LicenceView) -> dict[str, Any]:
    """A licence as the record keeps it (JSON)."""
    return {
        "kind": licence.kind.name.lower(),
        "number": licence.number,
        "authority": licence.authority,
        "scope": list(licence.scope),
        "classes": list(licence.classes),
        "valid_until": licence.valid_until,
        "revoked": licence.revoked,
        "warehouse_address": licence.warehouse_address,
        "province": licence.province,
    }


def supplier_licences(conn: Connection, supplier: str) -> list[LicenceView]:
    """The licences of `supplier` as attested (public registration data, any member reads)."""
    return licences_of(conn, to_checksum_address(supplier))


def files(conn: Connection, *, member: Member, of: str | None = None) -> ApprovalFiles:
    """A member's approval files: its own, or any member's for a regulator (404 otherwise)."""
    owner = member.address if of is None else to_checksum_address(of)
    if owner != member.address and not member.is_regulator:
        raise NotFound("qualification_not_found", "no approval files of that member for you")
    return approval_files(conn, owner)


def _documents(services: Services, member: Member, refs: list[DocumentRef]) -> list[Any]:
    """The attached documents, each one the member may read (404 otherwise, as for a read)."""
    out = []
    for ref in refs:
        doc, _ = documents.read(
            services, ref.document_id, address=member.address, regulator=member.is_regulator
        )
        out.append(
            {
                "document_id": doc.id,
                "kind": ref.kind,
                "filename": doc.filename,
                "document_hash": "0x" + doc.document_hash.hex(),
            }
        )
    return out


def _seal(
    services: Services,
    *,
    member: Member,
    readers: list[str],
    subject: bytes,
    body: dict[str, Any],
) -> records.SealedRecord:
    return records.seal(
        services,
        kind=records.RecordKind.QUALIFICATION,
        author=member.address,
        readers=readers,
        subject_id=subject,
        body=body,
    )


def _written(
    services: Services, member: Member, op: Any, record: records.SealedRecord
) -> OperationOut:
    ledger: Ledger = member_ledger(services, member)
    out = report(op(ledger), signed_by="custodial")
    records.set_anchor(services, record.id, out.tx_hash)
    return settled(services, out)


def _trader(member: Member) -> None:
    if member.is_regulator:
        raise Unprocessable("qualification_traders_only", "only members that hold stock keep files")


def approve_supplier(
    services: Services, conn: Connection, *, member: Member, supplier: str, body: ApprovalIn
) -> OperationOut:
    """Approve `supplier` (首营企业) with the documents checked; its licences as attested
    now go into the sealed record."""
    _trader(member)
    supplier = to_checksum_address(supplier)
    record = _seal(
        services,
        member=member,
        readers=[supplier],
        subject=bytes.fromhex(supplier[2:]).rjust(32, b"\0"),
        body={
            "type": "supplier",
            "decision": "approved",
            "supplier": supplier,
            "supplier_name": organisation_name(conn, supplier) or "",
            "licences": [licence_body(x) for x in supplier_licences(conn, supplier)],
            "documents": _documents(services, member, body.documents),
            "note": body.note,
            "decided_by": body.decided_by,
        },
    )
    return _written(
        services,
        member,
        lambda ledger: ledger.approve_supplier(supplier, record=record.commitment),
        record,
    )


def withdraw_supplier(
    services: Services, *, member: Member, supplier: str, body: ApprovalIn
) -> OperationOut:
    _trader(member)
    supplier = to_checksum_address(supplier)
    record = _seal(
        services,
        member=member,
        readers=[supplier],
        subject=bytes.fromhex(supplier[2:]).rjust(32, b"\0"),
        body={
            "type": "supplier",
            "decision": "withdrawn",
            "supplier": supplier,
            "note": body.note,
            "decided_by": body.decided_by,
        },
    )
    return _written(
        services,
        member,
        lambda ledger: ledger.withdraw_supplier(supplier, record=record.commitment),
        record,
    )


def _manufacturer_of(services: Services, member: Member, gtin: str) -> str | None:
    product = member_ledger(services, member).product(gtin)
    return None if product is None else str(product.manufacturer)


def approve_product(
    services: Services, *, member: Member, gtin: str, body: ApprovalIn
) -> OperationOut:
    """Approve product `gtin` (首营品种); the record is shared with its manufacturer."""
    _trader(member)
    manufacturer = _manufacturer_of(services, member, gtin)
    record = _seal(
        services,
        member=member,
        readers=[manufacturer] if manufacturer else [],
        subject=gtin.encode("ascii").rjust(32, b"\0"),
        body={
            "type": "product",
            "decision": "approved",
            "gtin": gtin,
            "manufacturer": manufacturer or "",
            "documents": _documents(services, member, body.documents),
            "note": body.note,
            "decided_by": body.decided_by,
        },
    )
    return _written(
        services,
        member,
        lambda ledger: ledger.approve_product(gtin, record=record.commitment),
        record,
    )


def withdraw_product(
    services: Services, *, member: Member, gtin: str, body: ApprovalIn
) -> OperationOut:
    _trader(member)
    manufacturer = _manufacturer_of(services, member, gtin)
    record = _seal(
        services,
        member=member,
        readers=[manufacturer] if manufacturer else [],
        subject=gtin.encode("ascii").rjust(32, b"\0"),
        body={
            "type": "product",
            "decision": "withdrawn",
            "gtin": gtin,
            "note": body.note,
            "decided_by": body.decided_by,
        },
    )
    return _written(
        services,
        member,
        lambda ledger: ledger.withdraw_product(gtin, record=record.commitment),
        record,
    )


def set_policy(services: Services, *, member: Member, policy: PolicyName) -> OperationOut:
    """Off, Hold (unapproved goods land Quarantined) or Refuse (the shipment reverts)."""
    _trader(member)
    result = member_ledger(services, member).set_approval_policy(ApprovalPolicy[policy.upper()])
    return settled(services, report(result, signed_by="custodial"))
