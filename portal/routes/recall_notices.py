"""Recall notices for the organisations holding recalled stock: each open recall of a lot
the member holds units of, with what it holds, the deadline of the recall's level, and a
form to acknowledge the notice (`domain.recalls`, which the regulator's recall centre
shows per holder)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Form, Path
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection

from domain.recalls import acknowledge, recall_notices
from portal.context import Csrf, Ctx, role_ctx
from portal.nav import NavItem, _l, register
from sdk.model import Role
from web.deps import ConnDep

__all__ = ["router"]

HOLDERS = (Role.DISTRIBUTOR, Role.LOGISTICS, Role.HOSPITAL)
Holder = Annotated[Ctx, role_ctx(*HOLDERS)]
router = APIRouter(prefix="/portal/recalls", include_in_schema=False)
register(NavItem("/portal/recalls", _l("Recall notices"), frozenset(HOLDERS), 55))


def _page(ctx: Ctx, conn: Connection, **extra: object) -> HTMLResponse:
    return ctx.render(
        "trace/recall_notices.html",
        notices=recall_notices(ctx.services, conn, holder=ctx.signed_in.address),
        now=int(time.time()),
        **extra,
    )


@router.get("")
def notices(ctx: Holder, conn: ConnDep) -> HTMLResponse:
    return _page(ctx, conn)


@router.post("/{recall_id}/acknowledge")
def acknowledge_notice(
    ctx: Holder,
    conn: ConnDep,
    _: Csrf,
    recall_id: Annotated[int, Path(ge=1, le=2**32 - 1)],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    member = ctx.signed_in
    by = ctx.session.username if ctx.session else member.method
    try:
        acknowledge(
            ctx.services,
            conn,
            recall_id,
            holder=member.address,
            by=by,
            note=note,
            now=int(time.time()),
        )
    except Exception as exc:  # noqa: BLE001 (ctx.render re-raises what it cannot explain)
        return _page(ctx, conn, values={"note": note, "recall": recall_id}, problem=exc)
    return RedirectResponse("/portal/recalls", status_code=303)
