"""Inspection exports in the portal: a member picks a kind of GSP record and a period and
downloads its own records as a signed XLSX or PDF; on the regulator's deployment the
regulator picks any member, and downloads the summary report of any recall. The files are
the API's (`domain.inspection_exports`), signed by the same keys."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from medledger.domain.errors import ApiError
from medledger.domain.inspection_exports import (
    KINDS,
    ExportFormat,
    export_kind,
    member_export,
    recall_report,
)
from medledger.domain.partners import members
from medledger.domain.recalls import recall_list
from medledger.portal.context import Ctx, role_ctx
from medledger.portal.nav import NavItem, _l, register
from medledger.portal.regulator.access import Regulator
from medledger.sdk.dates import day_of
from medledger.sdk.model import Role
from medledger.web.deps import ConnDep
from medledger.web.downloads import export_download

__all__ = ["router"]

router = APIRouter(prefix="/portal/exports", include_in_schema=False)
PARTNERS = frozenset({Role.MANUFACTURER, Role.DISTRIBUTOR, Role.LOGISTICS, Role.HOSPITAL})
Partner = Annotated[Ctx, role_ctx(*PARTNERS)]
register(
    NavItem("/portal/exports", _l("Inspection exports"), PARTNERS, 90),
    NavItem("/portal/exports/regulator", _l("Inspection exports"), frozenset({Role.REGULATOR}), 90),
)
KIND_LABELS = {
    "purchase": _l("Purchase records"),
    "acceptance": _l("Acceptance records"),
    "sales": _l("Sales / outbound records"),
    "cold-chain": _l("Cold-chain temperature records"),
    "recall": _l("Recall records"),
    "adverse-event": _l("Adverse event records"),
}
Text = Annotated[str, Query(max_length=60)]
Fmt = Annotated[str, Query(alias="format", max_length=8)]


def _format(fmt: str) -> ExportFormat:
    try:
        return ExportFormat(fmt)
    except ValueError:
        raise ApiError("invalid_request", f"format {fmt!r}: xlsx or pdf") from None


def _page(
    ctx: Ctx, conn: Connection, values: dict[str, str], problem: Exception | None = None
) -> HTMLResponse:
    regulator = ctx.signed_in.role is Role.REGULATOR
    values.setdefault("period", day_of(int(time.time())).strftime("%Y-%m"))
    return ctx.render(
        "exports/index.html",
        kinds=[(k.value, ctx._(KIND_LABELS[k.value])) for k in KINDS],
        regulator=regulator,
        members=[(m.address, f"{m.name} {m.address}") for m in members(conn)] if regulator else [],
        recalls=recall_list(conn, limit=200) if regulator else [],
        values=values,
        problem=problem,
    )


def _member_download(
    ctx: Ctx, conn: Connection, values: dict[str, str], *, member: str, fmt: str
) -> Response:
    """The file, or the page again with what went wrong (the regulator signs as itself)."""
    try:
        found = member_export(
            ctx.services,
            conn,
            kind=export_kind(values["kind"]),
            member=member,
            period=values["period"],
            fmt=_format(fmt),
            regulator=ctx.signed_in.role is Role.REGULATOR,
            now=int(time.time()),
        )
    except ApiError as exc:
        return _page(ctx, conn, values, exc)
    return export_download(found)


@router.get("")
def partner_page(ctx: Partner, conn: ConnDep) -> HTMLResponse:
    return _page(ctx, conn, {})


@router.get("/download")
def partner_download(
    ctx: Partner, conn: ConnDep, kind: Text = "", period: Text = "", fmt: Fmt = "xlsx"
) -> Response:
    """The member's own records (never another's: the member is the signed-in one)."""
    values = {"kind": kind, "period": period}
    return _member_download(ctx, conn, values, member=ctx.signed_in.address, fmt=fmt)


@router.get("/regulator")
def regulator_page(ctx: Regulator, conn: ConnDep) -> HTMLResponse:
    return _page(ctx, conn, {})


@router.get("/regulator/download")
def regulator_download(
    ctx: Regulator,
    conn: ConnDep,
    kind: Text = "",
    member: Text = "",
    period: Text = "",
    fmt: Fmt = "xlsx",
) -> Response:
    """Any member's records, signed with the regulator's key."""
    values = {"kind": kind, "period": period, "member": member}
    return _member_download(ctx, conn, values, member=member, fmt=fmt)


@router.get("/regulator/recall-report")
def regulator_recall_report(
    ctx: Regulator,
    conn: ConnDep,
    recall: Annotated[int, Query(ge=1, le=2**32 - 1)],
    fmt: Fmt = "pdf",
) -> Response:
    try:
        found = recall_report(ctx.services, conn, recall, fmt=_format(fmt), now=int(time.time()))
    except ApiError as exc:
        return _page(ctx, conn, {"recall": str(recall)}, exc)
    return export_download(found)
