"""The regulator's pages: the network overview with its charts, members and licences
(attestation, suspension, reinstatement) and the alerts feed; the recall centre is in
`portal.routes.recalls`.

They exist in regulator mode only (`medledger api --regulator`), like the JSON routes
they share their use cases with (`domain.regulator`, `domain.network`), and only for a
signed-in member whose role is regulator. Writes are signed with the regulator's own key.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Mapping
from typing import Annotated

from babel import dates
from eth_utils import is_address
from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from medledger.domain import partners
from medledger.domain.auth import StaffRole
from medledger.domain.network import DAY, NetworkFigures, network_alerts, network_overview
from medledger.domain.recalls import RecallProblem, recall_list
from medledger.domain.regulator import MAX_REASON, RegulatorProblem
from medledger.indexer.queries.counterparties import names_of
from medledger.portal.charts import Bar, bar_chart, column_chart
from medledger.portal.context import STAFF_POLICY, Csrf, Ctx
from medledger.portal.errors import MESSAGES, FormError
from medledger.portal.i18n import Formatter
from medledger.portal.nav import NavItem, _l, register
from medledger.portal.pending import pending_param
from medledger.portal.regulator.access import Regulator
from medledger.portal.regulator.forms import LicenceForm, end_of_day, parse_form
from medledger.portal.routes.recalls import centre as recall_centre
from medledger.portal.routes.recalls import masters_of
from medledger.portal.vocabulary import word
from medledger.sdk.dates import consortium_zone
from medledger.sdk.model import LicenceKind, Role
from medledger.web.deps import ConnDep

__all__ = ["router"]

REGULATOR = frozenset({Role.REGULATOR})
register(
    NavItem("/portal/regulator", _l("Overview"), REGULATOR, 10),
    NavItem("/portal/regulator/members", _l("Members and licences"), REGULATOR, 20),
    NavItem("/portal/regulator/recalls", _l("Recall centre"), REGULATOR, 30),
    NavItem("/portal/regulator/alerts", _l("Alerts"), REGULATOR, 40),
)
MESSAGES.update(
    {
        "regulator_mode_only": _l("The regulator's pages are served by the regulator's portal."),
        RegulatorProblem.KEY_MISSING: _l("The regulator's signing key is not configured."),
        RecallProblem.UNKNOWN: _l("No such recall."),
        RecallProblem.CLOSED: _l("This recall is closed."),
        RecallProblem.NOT_IN_SCOPE: _l("Your organisation holds no units of this recall."),
        "DevicesLotAlreadyRecalled": _l("This lot is already under an open recall."),
        "DevicesRecallClosed": _l("This recall is already closed."),
        "DevicesUnknownRecall": _l("No such recall on the ledger."),
        "DevicesInvalidRecallLevel": _l("The recall level must be 1, 2 or 3."),
        "PartnersNotMember": _l("This address is not a member of the network."),
        "PartnersNotSuspended": _l("This member is not suspended."),
        "PartnersLicenceAlreadyExpired": _l("The licence's validity date is already past."),
        "PartnersInvalidClassMask": _l("Choose at least one device class."),
        "PartnersUnauthorized": _l("Only the regulator may do this."),
    }
)


router = APIRouter(prefix="/portal/regulator", include_in_schema=False)
router.include_router(recall_centre)

ALERT_KINDS = {
    "scan_two_places": _l("Scanned in two distant places"),
    "scan_after_dispensed": _l("Scanned after use"),
    "scan_after_destroyed": _l("Scanned after destruction"),
    "cold_chain_excursion": _l("Cold-chain excursion"),
    "adverse_event_rate": _l("Adverse-event rate"),
}
# What each alert means, in the page's language; the API's English detail follows it.
ALERT_SUMMARIES = {
    "scan_two_places": _l(
        "A member scanned the unit, and it was scanned again far away within hours."
    ),
    "scan_after_dispensed": _l("The unit was scanned again long after it was used."),
    "scan_after_destroyed": _l(
        "The unit was scanned again long after it was destroyed: the unit or its label may "
        "have been reused."
    ),
    "cold_chain_excursion": _l(
        "Shipment %(shipment)s was received by %(organisation)s outside its temperature range."
    ),
    "adverse_event_rate": _l("Lot %(lot)s: adverse-event reports for %(rate)s of its units."),
}
LICENCE_KINDS = {
    LicenceKind.PRODUCTION: _l("production"),
    LicenceKind.DISTRIBUTION: _l("distribution"),
    LicenceKind.PRACTICE: _l("practice"),
    LicenceKind.LOGISTICS: _l("logistics"),
}


def _day_label(fmt: Formatter, start: int) -> str:
    moment = dt.datetime.fromtimestamp(start, dt.UTC)
    return dates.format_skeleton("MMMd", moment, tzinfo=consortium_zone(), locale=fmt.locale)


def _charts(ctx: Ctx, figures: NetworkFigures) -> dict[str, object]:
    _, fmt = ctx._, ctx.fmt
    members = [
        Bar(_(word(role.name)), n, fmt.number(n))
        for role, n in sorted(figures.members_by_role.items())
    ]
    if figures.suspended:
        members.append(Bar(_("suspended"), figures.suspended, fmt.number(figures.suspended)))
    days = [Bar(_day_label(fmt, start), n, fmt.number(n)) for start, n in figures.shipments_per_day]
    recalls: list[Bar] = []
    for level, (opened, closed) in figures.recalls_by_level.items():
        recalls.append(Bar(_("Level %(n)s, open") % {"n": level}, opened, fmt.number(opened)))
        recalls.append(Bar(_("Level %(n)s, closed") % {"n": level}, closed, fmt.number(closed)))
    alerts = [
        Bar(
            _(label),
            figures.alerts_by_kind.get(kind, 0),
            fmt.number(figures.alerts_by_kind.get(kind, 0)),
        )
        for kind, label in ALERT_KINDS.items()
    ]
    empty = _("Nothing yet")
    return {
        "members_chart": bar_chart(
            members, chart_id="chart-members", title=_("Members by role"), empty=empty
        ),
        "shipments_chart": column_chart(
            days, chart_id="chart-shipments", title=_("Shipments per day"), empty=empty
        ),
        "recalls_chart": bar_chart(
            recalls, chart_id="chart-recalls", title=_("Recalls by level"), empty=empty
        ),
        "alerts_chart": bar_chart(
            alerts, chart_id="chart-alerts", title=_("Alerts, last 14 days"), empty=empty
        ),
    }


@router.get("")
def overview(ctx: Regulator, conn: ConnDep) -> HTMLResponse:
    figures = network_overview(conn, ctx.services.settings, now=int(time.time()))
    open_recalls = [r for r in recall_list(conn, limit=50) if r.open][:10]
    return ctx.render(
        "regulator/overview.html",
        figures=figures,
        open_recalls=open_recalls,
        masters=masters_of(ctx, (r.gtin for r in open_recalls)),
        **_charts(ctx, figures),
    )


def _members_page(
    ctx: Ctx, conn: ConnDep, *, values: Mapping[str, object] | None = None, **extra: object
) -> HTMLResponse:
    return ctx.render(
        "regulator/members.html",
        members=partners.members(conn),
        now=int(time.time()),
        licence_kinds=LICENCE_KINDS,
        values=values or {},
        **extra,
    )


@router.get("/members")
def members(ctx: Regulator, conn: ConnDep, notice: str = "", pending: str = "") -> HTMLResponse:
    return _members_page(
        ctx,
        conn,
        notice=ctx._(notice) if notice in NOTICES else None,
        index_pending=bool(notice and pending),
    )


NOTICES = {
    "licence": _l("The licence is attested on the ledger."),
    "suspended": _l("The member is suspended: the ledger refuses its transactions from now on."),
    "reinstated": _l("The member is reinstated."),
    "admitted": _l("The organisation is admitted as a member."),
    "prefix": _l("The company prefix is assigned."),
}
LICENCE_HINTS = {
    "member": _l("Choose a member."),
    "kind": _l("Choose the kind of licence."),
    "number": _l("Enter the licence number (1-64 characters)."),
    "scope": _l("Enter classification codes such as 07 or 07-03, separated by commas."),
    "authority": _l("At most 200 characters."),
    "warehouse_address": _l("At most 200 characters."),
    "province": _l("At most 200 characters."),
    "device_classes": _l("Choose at least one device class."),
    "valid_until": _l("Enter the last day of validity."),
}


@router.post("/licences")
def licence(
    ctx: Regulator,
    conn: ConnDep,
    _: Csrf,
    member: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    number: Annotated[str, Form()] = "",
    device_classes: Annotated[list[int], Form()] = [],  # noqa: B006 (FastAPI reads it)
    valid_until: Annotated[str, Form()] = "",
    authority: Annotated[str, Form()] = "",
    scope: Annotated[str, Form()] = "",
    warehouse_address: Annotated[str, Form()] = "",
    province: Annotated[str, Form()] = "",
) -> Response:
    values: dict[str, object] = {
        "member": member,
        "kind": kind,
        "number": number,
        "valid_until": valid_until,
        "device_classes": device_classes,
        "authority": authority,
        "scope": scope,
        "warehouse_address": warehouse_address,
        "province": province,
    }
    try:
        form = parse_form(
            LicenceForm,
            {
                "member": member,
                "kind": kind,
                "number": number.strip(),
                "device_classes": device_classes,
                "valid_until": end_of_day(
                    valid_until, field="valid_until", message=ctx._(LICENCE_HINTS["valid_until"])
                ),
                "authority": authority.strip(),
                "scope": [c for c in re.split(r"[\s,，、;；]+", scope) if c],
                "warehouse_address": warehouse_address.strip(),
                "province": province.strip(),
            },
            hints=LICENCE_HINTS,
            gettext=ctx._,
        )
        written = partners.attest_licence(
            ctx.services,
            member=form.member,
            kind=LicenceKind[form.kind.upper()],
            number=form.number,
            device_classes=form.device_classes,
            valid_until=form.valid_until,
            authority=form.authority,
            scope=form.scope,
            warehouse_address=form.warehouse_address,
            province=form.province,
        )
    except Exception as exc:  # noqa: BLE001 (ctx.render re-raises what it cannot explain)
        return _members_page(ctx, conn, values=values, problem=exc)
    return RedirectResponse(
        f"/portal/regulator/members?{pending_param(written)}notice=licence", status_code=303
    )


def _check_address(address: str) -> None:
    if not is_address(address):
        raise FormError("invalid_request", f"{address!r} is not an address", {})


@router.post("/members/{address}/suspend")
def suspend(
    ctx: Regulator,
    conn: ConnDep,
    _: Csrf,
    address: str,
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
) -> Response:
    try:
        _check_address(address)
        written = partners.suspend_member(ctx.services, member=address, reason=reason)
    except Exception as exc:  # noqa: BLE001
        return _members_page(ctx, conn, values={"reason": reason, "address": address}, problem=exc)
    return RedirectResponse(
        f"/portal/regulator/members?{pending_param(written)}notice=suspended", status_code=303
    )


@router.post("/members/admit")
def admit(
    ctx: Regulator,
    conn: ConnDep,
    _: Csrf,
    member: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    """Admit an organisation (its account address, role and name) to the consortium."""
    values = {"new_member": member, "role": role, "name": name}
    try:
        _check_address(member.strip())
        if role not in ADMITTED_ROLES or not 1 <= len(name.strip()) <= 200:
            raise FormError("invalid_request", "role and name (1-200 characters)", {})
        written = partners.admit_member(
            ctx.services,
            member=member.strip(),
            role=role,  # type: ignore[arg-type]
            name=name.strip(),
        )
    except Exception as exc:  # noqa: BLE001 (ctx.render re-raises what it cannot explain)
        return _members_page(ctx, conn, values=values, problem=exc)
    return RedirectResponse(
        f"/portal/regulator/members?{pending_param(written)}notice=admitted", status_code=303
    )


ADMITTED_ROLES = ("manufacturer", "distributor", "logistics", "hospital")
STAFF_POLICY["/portal/regulator/prefixes"] = StaffRole.MANAGER  # as admitting a member


@router.post("/prefixes")
def prefix(
    ctx: Regulator,
    conn: ConnDep,
    _: Csrf,
    member: Annotated[str, Form()] = "",
    prefix: Annotated[str, Form()] = "",
) -> Response:
    """Assign a GS1 company prefix to a member."""
    values = {"prefix_member": member, "prefix": prefix}
    try:
        _check_address(member)
        written = partners.assign_prefix(ctx.services, member=member, prefix=prefix.strip())
    except Exception as exc:  # noqa: BLE001
        return _members_page(ctx, conn, values=values, problem=exc)
    return RedirectResponse(
        f"/portal/regulator/members?{pending_param(written)}notice=prefix", status_code=303
    )


@router.post("/members/{address}/reinstate")
def reinstate(ctx: Regulator, conn: ConnDep, _: Csrf, address: str) -> Response:
    try:
        _check_address(address)
        written = partners.reinstate_member(ctx.services, member=address)
    except Exception as exc:  # noqa: BLE001
        return _members_page(ctx, conn, problem=exc)
    return RedirectResponse(
        f"/portal/regulator/members?{pending_param(written)}notice=reinstated", status_code=303
    )


@router.get("/alerts")
def alerts(
    ctx: Regulator,
    conn: ConnDep,
    kind: Annotated[str, Query(max_length=40)] = "",
    days: Annotated[int, Query(ge=1, le=365)] = 14,
) -> HTMLResponse:
    found = network_alerts(conn, ctx.services.settings, since=int(time.time()) - days * DAY)
    matching = [a for a in found if not kind or a.kind == kind]
    shown = matching[:500]
    return ctx.render(
        "regulator/alerts.html",
        alerts=shown,
        total=len(matching),
        kinds=ALERT_KINDS,
        summaries=ALERT_SUMMARIES,
        names=names_of(conn, {a.organisation for a in shown if a.organisation}),
        values={"kind": kind, "days": days},
    )
