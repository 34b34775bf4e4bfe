"""Adverse-event reports as their parties read them: the reporter, the manufacturer of the
lot and the regulator list and open the reports they are party to (`domain.adverse_events`;
anyone else gets the not-found page). A manufacturer also sees the per-lot rate alerts of
its own lots, the alert the regulator gets. Hospitals file reports at
`/portal/hospital/adverse-events` (`portal.routes.hospital`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse

from medledger.domain import adverse_events as ae
from medledger.portal.context import MemberCtx
from medledger.portal.nav import NavItem, _l, register
from medledger.sdk.model import Role
from medledger.web.deps import ConnDep

__all__ = ["OUTCOMES", "SEVERITIES", "SEXES", "router"]

router = APIRouter(prefix="/portal/adverse-events", include_in_schema=False)
register(
    NavItem(
        "/portal/adverse-events",
        _l("Adverse-event reports"),
        frozenset({Role.MANUFACTURER, Role.HOSPITAL, Role.REGULATOR}),
        75,
    )
)
RecordId = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_-]+$")]
OUTCOMES = {
    ae.Outcome.DEATH: _l("Death"),
    ae.Outcome.SERIOUS_INJURY: _l("Serious injury"),
    ae.Outcome.INJURY: _l("Injury"),
    ae.Outcome.NO_INJURY: _l("No injury"),
    ae.Outcome.UNKNOWN: _l("Unknown"),
}
SEVERITIES = {
    1: _l("Death or serious injury"),
    2: _l("Injury needing treatment"),
    3: _l("Malfunction without harm"),
}
SEXES = {ae.Sex.FEMALE: _l("Female"), ae.Sex.MALE: _l("Male")}


@router.get("")
def reports_page(ctx: MemberCtx, conn: ConnDep) -> HTMLResponse:
    member = ctx.signed_in
    found = ae.reports(
        ctx.services, reader_address=member.address, regulator=member.is_regulator, limit=200
    )
    alerts = (
        ae.lot_alerts(conn, ctx.services, manufacturer=member.address)
        if member.role is Role.MANUFACTURER
        else []
    )
    return ctx.render("adverse_events/list.html", reports=found, alerts=alerts, hexs=ae.subject_hex)


@router.get("/{record_id}")
def report_page(record_id: RecordId, ctx: MemberCtx) -> HTMLResponse:
    member = ctx.signed_in
    found = ae.read_report(
        ctx.services, record_id, reader_address=member.address, regulator=member.is_regulator
    )
    return ctx.render(
        "adverse_events/read.html",
        found=found,
        subject=ae.subject_hex(found.record),
        outcomes=OUTCOMES,
        severities=SEVERITIES,
        sexes=SEXES,
    )
