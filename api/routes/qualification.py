"""Qualification files for the signed-in member, the HTTP face of `domain.qualification`:
its approval policy and its approved-supplier and approved-product files (首营企业/首营品种),
and a supplier's licences as attested (public registration data). Mounted under
/v1/partner by `api.routes.items`.

Approving and withdrawing seal a qualification record (documents checked, licences seen,
note, who decided) for the member, the counterparty and the regulator, and put its salted
commitment on chain. A member reads only its own files (a regulator any member's: other
callers get 404). A regulator keeps no files (422 `qualification_traders_only`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from medledger.domain import qualification
from medledger.domain.partner_schemas import PROBLEMS, OperationOut
from medledger.domain.qualification import PolicyName, ProductApprovalIn, SupplierApprovalIn
from medledger.web.deps import ConnDep, ServicesDep
from medledger.web.members import CurrentMember

__all__ = ["router"]

router = APIRouter(tags=["partner"], responses=PROBLEMS)


class LicenceOut(BaseModel):
    kind: str
    number: str
    authority: str
    scope: list[str]
    classes: list[int]
    valid_until: int
    revoked: bool
    warehouse_address: str
    province: str


class SupplierApprovalOut(BaseModel):
    supplier: str
    name: str
    record_commitment: str
    approved: bool
    block_number: int


class ProductApprovalOut(BaseModel):
    gtin: str
    record_commitment: str
    approved: bool
    block_number: int


class ApprovalFilesOut(BaseModel):
    member: str
    policy: PolicyName
    suppliers: list[SupplierApprovalOut]
    products: list[ProductApprovalOut]


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: PolicyName


@router.get("/qualification", response_model=ApprovalFilesOut)
def approval_files(
    member: CurrentMember,
    conn: ConnDep,
    of: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$")] = None,
) -> ApprovalFilesOut:
    """Your approval policy and files (a regulator may name any member with `of`)."""
    files = qualification.files(conn, member=member, of=of)
    return ApprovalFilesOut(
        member=of or member.address,
        policy=files.policy.name.lower(),  # type: ignore[arg-type]
        suppliers=[
            SupplierApprovalOut(
                supplier=s.supplier,
                name=s.name,
                record_commitment="0x" + s.record.hex(),
                approved=s.approved,
                block_number=s.block_number,
            )
            for s in files.suppliers
        ],
        products=[
            ProductApprovalOut(
                gtin=p.gtin,
                record_commitment="0x" + p.record.hex(),
                approved=p.approved,
                block_number=p.block_number,
            )
            for p in files.products
        ],
    )


@router.put("/qualification/policy", response_model=OperationOut)
def set_policy(body: PolicyIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    """Off, hold (unapproved goods are received into quarantine) or refuse (the ledger
    refuses the shipment: 409 `ItemsSupplierNotApproved` / `ItemsProductNotApproved`)."""
    return qualification.set_policy(services, member=member, policy=body.policy)


@router.get("/licences", response_model=list[LicenceOut])
def member_licences(
    member: CurrentMember,
    conn: ConnDep,
    member_address: Annotated[
        str, Query(alias="member", pattern=r"^0x[0-9a-fA-F]{40}$", description="member address")
    ],
) -> list[LicenceOut]:
    """A member's licences as the regulator attested them (public registration data: any
    member reads them before approving a supplier)."""
    return [
        LicenceOut(**qualification.licence_body(x))
        for x in qualification.supplier_licences(conn, member_address)
    ]


@router.post("/qualification/suppliers", response_model=OperationOut, status_code=201)
def approve_supplier(
    body: SupplierApprovalIn, member: CurrentMember, services: ServicesDep, conn: ConnDep
) -> OperationOut:
    """Approve a supplier (`counterparty`) with the qualification documents you checked."""
    return qualification.approve_supplier(
        services, conn, member=member, supplier=body.counterparty, body=body
    )


@router.post("/qualification/suppliers/withdraw", response_model=OperationOut)
def withdraw_supplier(
    body: SupplierApprovalIn, member: CurrentMember, services: ServicesDep
) -> OperationOut:
    return qualification.withdraw_supplier(
        services, member=member, supplier=body.counterparty, body=body
    )


@router.post("/qualification/products", response_model=OperationOut, status_code=201)
def approve_product(
    body: ProductApprovalIn, member: CurrentMember, services: ServicesDep
) -> OperationOut:
    """Approve a product with the registration certificate and authorisation you checked."""
    return qualification.approve_product(services, member=member, gtin=body.gtin, body=body)


@router.post("/qualification/products/withdraw", response_model=OperationOut)
def withdraw_product(
    body: ProductApprovalIn, member: CurrentMember, services: ServicesDep
) -> OperationOut:
    return qualification.withdraw_product(services, member=member, gtin=body.gtin, body=body)
