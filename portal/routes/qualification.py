"""首营审核 / Supplier and product approvals: a member's approved-supplier and
approved-product files and its policy for goods outside them (`domain.qualification`, the
same use cases as /v1/partner/qualification).

Approving a supplier shows its licences as the regulator attested them (number, authority,
scope, validity, warehouse address, province); the clerk attaches the copies it checked
(licence copy, registration-certificate copy, authorisation letter), which are stored
encrypted for the member, the supplier and the regulator (`portal.routes.documents`), and
the sealed qualification record lists them.
"""

from __future__ import annotations

from typing import Annotated

from eth_utils import is_address, to_checksum_address
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from medledger.domain import qualification
from medledger.domain.auth import StaffRole
from medledger.domain.qualification import DocumentRef, ProductApprovalIn, SupplierApprovalIn
from medledger.indexer.queries.counterparties import partners
from medledger.portal.context import STAFF_POLICY, Csrf, Ctx, role_ctx
from medledger.portal.errors import ACTION_ERRORS as FAILURES
from medledger.portal.errors import FormError
from medledger.portal.nav import NavItem, _l, register
from medledger.portal.routes.documents import check_sizes, form_fields, upload
from medledger.sdk.model import Role
from medledger.web.deps import ConnDep

__all__ = ["router"]

router = APIRouter(prefix="/portal/qualification", include_in_schema=False)
TRADERS = frozenset({Role.MANUFACTURER, Role.DISTRIBUTOR, Role.LOGISTICS, Role.HOSPITAL})
Trader = Annotated[Ctx, role_ctx(*TRADERS)]
register(NavItem("/portal/qualification", _l("Supplier & product approvals"), TRADERS, 60))
# First-time supplier/product review (首营审核) is the quality department's decision.
STAFF_POLICY["/portal/qualification"] = StaffRole.QA
# Document kinds anchored with Records.anchorDocument (1-3: portal.routes.documents).
QUALIFICATION_DOCUMENT = 4
DOC_KINDS = ("licence", "registration_certificate", "authorisation_letter", "other")
POLICIES = ("off", "hold", "refuse")


def _page(
    ctx: Ctx, conn: Connection, *, supplier: str = "", status_code: int = 200, **values: object
) -> HTMLResponse:
    files = qualification.files(conn, member=ctx.signed_in)
    chosen = to_checksum_address(supplier) if is_address(supplier) else ""
    return ctx.render(
        "qualification/index.html",
        files=files,
        policy=files.policy.name.lower(),
        partners=partners(conn, excluding=ctx.signed_in.address),
        supplier=chosen,
        licences=qualification.supplier_licences(conn, chosen) if chosen else [],
        status_code=status_code,
        **{"values": {}, **values},
    )


@router.get("")
def approvals_page(ctx: Trader, conn: ConnDep, supplier: str = "") -> HTMLResponse:
    return _page(ctx, conn, supplier=supplier)


@router.post("/policy")
def set_policy(
    ctx: Trader, conn: ConnDep, _: Csrf, policy: Annotated[str, Form()] = ""
) -> Response:
    try:
        if policy not in POLICIES:
            raise FormError("invalid_request", f"policy {policy!r}", {"policy": policy})
        done = qualification.set_policy(ctx.services, member=ctx.signed_in, policy=policy)  # type: ignore[arg-type]
    except FAILURES as exc:
        return _page(ctx, conn, problem=exc)
    return _page(ctx, conn, notice=ctx._("Policy saved."), index_pending=not done.indexed)


def _documents(
    ctx: Ctx,
    typed: dict[str, str],
    files: list[UploadFile],
    counterparty: str | None,
    subject: bytes,
) -> list[DocumentRef]:
    kind = typed.get("document_kind", "licence")
    if kind not in DOC_KINDS:
        raise FormError("invalid_request", f"document kind {kind!r}", {"document_kind": kind})
    check_sizes(files)
    refs = []
    for file in files:
        stored = upload(ctx, file, subject, QUALIFICATION_DOCUMENT, counterparty)
        refs.append(DocumentRef(document_id=stored.id, kind=kind))  # type: ignore[arg-type]
    return refs


@router.post("/suppliers")
async def approve_supplier(request: Request, ctx: Trader, conn: ConnDep, _: Csrf) -> Response:
    async with request.form() as form:  # closes the uploaded files afterwards
        typed, files = form_fields(form)
        return await run_in_threadpool(_approve_supplier, ctx, conn, typed, files)


def _approve_supplier(
    ctx: Ctx, conn: Connection, typed: dict[str, str], files: list[UploadFile]
) -> Response:
    supplier = typed.get("supplier", "")
    try:
        if not is_address(supplier):
            raise FormError("invalid_request", "choose a supplier", {"supplier": supplier})
        supplier = to_checksum_address(supplier)
        subject = bytes.fromhex(supplier[2:]).rjust(32, b"\0")
        refs = _documents(ctx, typed, files, supplier, subject)
        body = SupplierApprovalIn(
            counterparty=supplier,
            documents=refs,
            note=typed.get("note", "")[:2000],
            decided_by=ctx.signed_in.organisation or "",
        )
        done = qualification.approve_supplier(
            ctx.services, conn, member=ctx.signed_in, supplier=supplier, body=body
        )
    except FAILURES as exc:
        return _page(ctx, conn, supplier=supplier, values=typed, problem=exc)
    return _page(ctx, conn, notice=ctx._("Supplier approved."), index_pending=not done.indexed)


@router.post("/products")
async def approve_product(request: Request, ctx: Trader, conn: ConnDep, _: Csrf) -> Response:
    async with request.form() as form:  # closes the uploaded files afterwards
        typed, files = form_fields(form)
        return await run_in_threadpool(_approve_product, ctx, conn, typed, files)


def _approve_product(
    ctx: Ctx, conn: Connection, typed: dict[str, str], files: list[UploadFile]
) -> Response:
    gtin = typed.get("gtin", "").strip()
    try:
        if not (len(gtin) == 14 and gtin.isdigit()):
            raise FormError("invalid_request", "GTIN-14", {"gtin": gtin})
        refs = _documents(ctx, typed, files, None, gtin.encode("ascii").rjust(32, b"\0"))
        body = ProductApprovalIn(
            gtin=gtin,
            documents=refs,
            note=typed.get("note", "")[:2000],
            decided_by=ctx.signed_in.organisation or "",
        )
        done = qualification.approve_product(
            ctx.services, member=ctx.signed_in, gtin=gtin, body=body
        )
    except FAILURES as exc:
        return _page(ctx, conn, values=typed, problem=exc)
    return _page(ctx, conn, notice=ctx._("Product approved."), index_pending=not done.indexed)


@router.post("/withdraw")
def withdraw(
    ctx: Trader,
    conn: ConnDep,
    _: Csrf,
    supplier: Annotated[str, Form()] = "",
    gtin: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    """Withdraw a supplier or a product from the files."""
    try:
        if is_address(supplier):
            body = SupplierApprovalIn(counterparty=supplier, note=note[:2000])
            done = qualification.withdraw_supplier(
                ctx.services, member=ctx.signed_in, supplier=supplier, body=body
            )
        elif len(gtin) == 14 and gtin.isdigit():
            product = ProductApprovalIn(gtin=gtin, note=note[:2000])
            done = qualification.withdraw_product(
                ctx.services, member=ctx.signed_in, gtin=gtin, body=product
            )
        else:
            raise FormError("invalid_request", "nothing to withdraw", {})
    except FAILURES as exc:
        return _page(ctx, conn, problem=exc)
    return _page(ctx, conn, notice=ctx._("Withdrawn."), index_pending=not done.indexed)
