"""Stock pages (the distributor's and logistics provider's start page, and the
manufacturer's stock): units on hand per lot, with expiry warnings (expired, or expiring
within `EXPIRY_WARNING_DAYS`), from `indexer.queries.stock`, and the form that
quarantines, releases or destroys the member's loose units of lot-tracked devices.
Inbound and outbound shipments are the shared pages of `portal.routes.shipments`."""

from __future__ import annotations

import time
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response

from medledger.domain.lot_stock import holds_of, lot_stock_of, stock_holds
from medledger.indexer.queries.stock import inventory
from medledger.portal.context import Csrf, Ctx, role_ctx
from medledger.portal.errors import ACTION_ERRORS as FAILURES
from medledger.portal.lot_actions import HELD, lot_action
from medledger.portal.nav import NavItem, _l, register
from medledger.sdk.model import Role
from medledger.web.deps import ConnDep

__all__ = ["router", "stock_page"]

router = APIRouter(prefix="/portal", include_in_schema=False)
HOLDERS = frozenset({Role.DISTRIBUTOR, Role.LOGISTICS})
Holder = Annotated[Ctx, role_ctx(*HOLDERS)]
Maker = Annotated[Ctx, role_ctx(Role.MANUFACTURER)]
Stockholder = Annotated[Ctx, role_ctx(*HOLDERS, Role.MANUFACTURER)]
register(
    NavItem("/portal/distributor", _l("Stock"), HOLDERS, 10),
    NavItem("/portal/stock", _l("Stock"), frozenset({Role.MANUFACTURER}), 45),
)
EXPIRY_WARNING_DAYS = 90
DAY = 24 * 3600


def stock_page(ctx: Ctx, conn: ConnDep, template: str, **values: object) -> HTMLResponse:
    """The member's stock per lot and status, each line marked expired/expiring/ok."""
    now = int(time.time())
    lines = inventory(conn, ctx.signed_in.address)
    marked = [(line, _mark(line.expiry, now)) for line in lines]
    by_lot = [
        (s, _mark(s.line.expiry, now))
        for s in lot_stock_of(ctx.services, conn, ctx.signed_in.address)
    ]
    return ctx.render(
        template,
        lines=marked,
        lot_lines=by_lot,
        holds=partial(holds_of, stock_holds(conn, ctx.signed_in.address)),
        warning_days=EXPIRY_WARNING_DAYS,
        expiring=sum(1 for _, mark in [*marked, *by_lot] if mark != "ok"),
        **values,
    )


def _mark(expiry: int, now: int) -> str:
    if expiry < now:
        return "expired"
    return "expiring" if expiry < now + EXPIRY_WARNING_DAYS * DAY else "ok"


@router.get("/distributor")
def stock(ctx: Holder, conn: ConnDep) -> HTMLResponse:
    """The distributor's and logistics provider's start page."""
    return stock_page(ctx, conn, "distributor/stock.html")


@router.get("/stock")
def manufacturer_stock(ctx: Maker, conn: ConnDep) -> HTMLResponse:
    """What the manufacturer still holds: commissioned, returned or quarantined units."""
    return stock_page(ctx, conn, "distributor/stock.html")


@router.post("/stock/lots")
def lots(
    ctx: Stockholder,
    conn: ConnDep,
    _: Csrf,
    lots: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "quarantine",
    lot_record: Annotated[str, Form()] = "",
) -> Response:
    """Quarantine, release or destroy the member's own loose units of lot-tracked devices."""
    typed = {"lots": lots, "action": action, "lot_record": lot_record}
    try:
        done = lot_action(ctx, HELD, lots=lots, action=action, record=lot_record)
    except FAILURES as exc:
        return stock_page(ctx, conn, "distributor/stock.html", values=typed, problem=exc)
    return stock_page(
        ctx,
        conn,
        "distributor/stock.html",
        values={"action": action},
        notice=done.notice,
        index_pending=not done.indexed,
    )
