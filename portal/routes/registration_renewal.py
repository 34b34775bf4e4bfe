"""Registration renewal (注册证延续) for a manufacturer's QA: its products with the
registration expiry the ledger holds, and the form that records a renewed certificate
(new number and expiry on the ledger, `domain.registration_renewal`; the certificate's copy
in the encrypted document store, for the manufacturer and the regulator)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from medledger.domain.auth import StaffRole
from medledger.domain.registration_renewal import RenewalIn, renew_registration
from medledger.indexer.queries.devices import products_of
from medledger.portal.context import NAV_STAFF, STAFF_POLICY, Csrf, Ctx, role_ctx
from medledger.portal.errors import ACTION_ERRORS as FAILURES
from medledger.portal.forms import need
from medledger.portal.nav import NavItem, _l, register
from medledger.portal.routes.documents import (
    REGISTRATION_CERTIFICATE,
    Recorded,
    attach_after,
    check_sizes,
    form_fields,
)
from medledger.portal.routes.manufacturer import product_subject
from medledger.sdk.model import Role
from medledger.web.deps import ConnDep

__all__ = ["router"]

PATH = "/portal/registration-renewal"
router = APIRouter(prefix=PATH, include_in_schema=False)
Manufacturer = Annotated[Ctx, role_ctx(Role.MANUFACTURER)]
register(NavItem(PATH, _l("Registration renewal"), frozenset({Role.MANUFACTURER}), 15))
STAFF_POLICY[PATH] = StaffRole.QA
NAV_STAFF[PATH] = StaffRole.QA


def _page(ctx: Ctx, conn: ConnDep, **values: object) -> HTMLResponse:
    values.setdefault("values", {})
    return ctx.render(
        "registration_renewal/page.html",
        products=products_of(conn, ctx.signed_in.address),
        **values,
    )


@router.get("")
def renewal_page(ctx: Manufacturer, conn: ConnDep) -> HTMLResponse:
    return _page(ctx, conn)


@router.post("")
async def renew(request: Request, ctx: Manufacturer, conn: ConnDep, _: Csrf) -> Response:
    async with request.form() as form:  # closes the uploaded certificate afterwards
        typed, files = form_fields(form)
        return await run_in_threadpool(_renew, ctx, conn, typed, files)


def _renew(ctx: Ctx, conn: ConnDep, typed: dict[str, str], files: list[UploadFile]) -> Response:
    try:
        body = RenewalIn.model_validate(
            {
                "gtin": need("gtin", typed.get("gtin", "")).strip(),
                "certificate_number": need("certificate", typed.get("certificate", "")).strip(),
                "registration_expiry": need(
                    "registration_expiry", typed.get("registration_expiry", "")
                ),
            }
        )
        check_sizes(files)
        done = renew_registration(ctx.services, member=ctx.signed_in, renewal=body)
    except FAILURES as exc:
        return _page(ctx, conn, values=typed, problem=exc)
    summary = ctx._("The registration of %(gtin)s is renewed on the ledger.") % {"gtin": body.gtin}
    not_stored = attach_after(
        ctx,
        files,
        Recorded([summary], done.tx_hash, PATH),
        subject=product_subject(body.gtin),
        kind=REGISTRATION_CERTIFICATE,
        counterparty=None,
    )
    return not_stored or _page(ctx, conn, notice=summary)
