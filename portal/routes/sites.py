"""场所 / Sites: the signed-in member's primary GLN and the sites it registers and retires
(`domain.sites`, the same use cases as /v1/partner/sites). EPCIS events name these GLNs as
their readPoint and bizLocation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from medledger.domain import sites
from medledger.domain.sites import SiteIn
from medledger.portal.context import Csrf, Ctx, role_ctx
from medledger.portal.errors import ACTION_ERRORS as FAILURES
from medledger.portal.nav import NavItem, _l, register
from medledger.sdk.model import Role
from medledger.web.deps import ConnDep

__all__ = ["router"]

router = APIRouter(prefix="/portal/sites", include_in_schema=False)
TRADERS = frozenset({Role.MANUFACTURER, Role.DISTRIBUTOR, Role.LOGISTICS, Role.HOSPITAL})
Trader = Annotated[Ctx, role_ctx(*TRADERS)]
register(NavItem("/portal/sites", _l("Sites (GLN)"), TRADERS, 61))


def _page(ctx: Ctx, conn: Connection, *, status_code: int = 200, **values: object) -> HTMLResponse:
    rows = sites.list_sites(conn, ctx.signed_in.address, include_retired=True)
    return ctx.render(
        "sites/index.html",
        sites=[(r, sites.sgln(conn, r.gln, owner=ctx.signed_in.address)) for r in rows],
        status_code=status_code,
        **{"values": {}, **values},
    )


@router.get("")
def sites_page(ctx: Trader, conn: ConnDep) -> HTMLResponse:
    return _page(ctx, conn)


@router.post("")
def register_site(
    ctx: Trader,
    conn: ConnDep,
    _: Csrf,
    gln: Annotated[str, Form(max_length=13)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    name_en: Annotated[str, Form(max_length=200)] = "",
    address: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    values = {"gln": gln, "name": name, "name_en": name_en, "address": address}
    try:
        site = SiteIn(gln=gln.strip(), name=name.strip(), name_en=name_en, address=address)
        done = sites.register_site(ctx.services, member=ctx.signed_in, site=site)
    except FAILURES as exc:
        return _page(ctx, conn, values=values, problem=exc)
    return _page(ctx, conn, notice=ctx._("Site registered."), index_pending=not done.indexed)


@router.post("/retire")
def retire_site(
    ctx: Trader, conn: ConnDep, _: Csrf, gln: Annotated[str, Form(max_length=13)] = ""
) -> Response:
    try:
        done = sites.retire_site(ctx.services, member=ctx.signed_in, gln=gln)
    except (*FAILURES, ValueError) as exc:
        return _page(ctx, conn, problem=exc if not isinstance(exc, ValueError) else None)
    return _page(ctx, conn, notice=ctx._("Site retired."), index_pending=not done.indexed)
