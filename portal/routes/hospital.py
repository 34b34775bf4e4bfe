"""Hospital pages: stock (received goods, `portal.routes.shipments` for receiving), using
units (dispense to a patient or implant; the procedure record is sealed, its salted
commitment on chain),
loose quantities of lot-tracked devices (use, quarantine, release, destroy) and
adverse-event reports (`domain.adverse_events`). Writes call the same use cases as the
JSON API (`domain.items`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response

from medledger.domain import adverse_events, items
from medledger.domain.adverse_events import MAX_NARRATIVE, MAX_PROBLEM, AdverseEventIn, AgeBand
from medledger.domain.partner_schemas import ItemsIn, hexs
from medledger.portal.context import Csrf, Ctx, role_ctx
from medledger.portal.errors import ACTION_ERRORS as FAILURES
from medledger.portal.errors import FormError
from medledger.portal.forms import codes, need, whole
from medledger.portal.lot_actions import USE, lot_action
from medledger.portal.nav import NavItem, _l, register
from medledger.portal.routes.adverse_events import OUTCOMES, SEXES
from medledger.portal.routes.distributor import stock_page
from medledger.sdk.errors import ContractError
from medledger.sdk.model import Role
from medledger.web.deps import ConnDep

__all__ = ["router"]

router = APIRouter(prefix="/portal/hospital", include_in_schema=False)
H = frozenset({Role.HOSPITAL})
Hospital = Annotated[Ctx, role_ctx(Role.HOSPITAL)]
register(
    NavItem("/portal/hospital", _l("Use and stock"), H, 10),
    NavItem("/portal/hospital/adverse-events", _l("Adverse events"), H, 70),
)
USES = ("dispense", "implant")


@router.get("")
def use_page(ctx: Hospital, conn: ConnDep) -> HTMLResponse:
    return stock_page(ctx, conn, "hospital/use.html", values={"use": "dispense"})


@router.post("/use")
def use(
    ctx: Hospital,
    conn: ConnDep,
    _: Csrf,
    contents: Annotated[str, Form()] = "",
    use: Annotated[str, Form()] = "dispense",
    record: Annotated[str, Form()] = "",
) -> Response:
    """Dispense or implant units: the ledger marks them used (`ItemsDispensed`)."""
    typed = {"contents": contents, "use": use, "record": record}
    try:
        if use not in USES:
            raise FormError("invalid_request", f"use {use!r}", {"use": use})
        units = codes("contents", contents)
        reference = need("record", record)
        body = ItemsIn.model_validate(
            {
                "item_ids": [hexs(u.item_id) for u in units],
                "record": {"reference": reference, "note": use},
            }
        )
        used = items.dispense(ctx.services, member=ctx.signed_in, items=body)
    except FAILURES as exc:
        return stock_page(ctx, conn, "hospital/use.html", values=typed, problem=exc)
    notice = ctx._("%(n)s units recorded as used.") % {"n": len(units)}
    return stock_page(
        ctx,
        conn,
        "hospital/use.html",
        values={"use": use},
        notice=notice,
        index_pending=not used.indexed,
    )


@router.post("/lots")
def lots(
    ctx: Hospital,
    conn: ConnDep,
    _: Csrf,
    lots: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "dispense",
    lot_record: Annotated[str, Form()] = "",
) -> Response:
    """Use (dispense or consume), quarantine, release or destroy loose quantities of
    lot-tracked devices; a recalled or expired lot is not dispensed (the ledger's rule)."""
    typed = {"lots": lots, "action": action, "lot_record": lot_record}
    try:
        done = lot_action(ctx, USE, lots=lots, action=action, record=lot_record)
    except FAILURES as exc:
        return stock_page(ctx, conn, "hospital/use.html", values=typed, problem=exc)
    return stock_page(
        ctx,
        conn,
        "hospital/use.html",
        values={"use": "dispense", "action": action},
        notice=done.notice,
        index_pending=not done.indexed,
    )


def _report_form(ctx: Ctx, **values: object) -> HTMLResponse:
    outcomes = [(o.value, ctx._(label)) for o, label in OUTCOMES.items()]
    bands = [(b.value, ctx._("Unknown") if b is AgeBand.UNKNOWN else b.value) for b in AgeBand]
    sexes = [("", "—")] + [(s.value, ctx._(label)) for s, label in SEXES.items()]
    return ctx.render(
        "hospital/adverse_event.html", outcomes=outcomes, age_bands=bands, sexes=sexes, **values
    )


@router.get("/adverse-events")
def adverse_event_form(ctx: Hospital) -> HTMLResponse:
    return _report_form(ctx, values=_FRESH)


_FRESH = {"severity": "2", "outcome": "unknown", "patient_age_band": "unknown"}


@router.post("/adverse-events")
def adverse_event(
    ctx: Hospital,
    _: Csrf,
    code: Annotated[str, Form(max_length=4096)] = "",
    severity: Annotated[str, Form(max_length=8)] = "",
    event_date: Annotated[str, Form(max_length=32)] = "",
    outcome: Annotated[str, Form(max_length=32)] = "",
    device_problem_code: Annotated[str, Form(max_length=16)] = "",
    device_problem: Annotated[str, Form(max_length=MAX_PROBLEM)] = "",
    patient_age_band: Annotated[str, Form(max_length=16)] = "unknown",
    patient_sex: Annotated[str, Form(max_length=16)] = "",
    narrative: Annotated[str, Form(max_length=MAX_NARRATIVE)] = "",
) -> HTMLResponse:
    """Report an adverse event about a unit the hospital holds (or used): the structured
    report is sealed for the hospital, the manufacturer and the regulator, and only its
    salted commitment goes on chain."""
    typed = {
        "code": code,
        "severity": severity,
        "event_date": event_date,
        "outcome": outcome,
        "device_problem_code": device_problem_code,
        "device_problem": device_problem,
        "patient_age_band": patient_age_band,
        "patient_sex": patient_sex,
        "narrative": narrative,
    }
    try:
        (unit,) = codes("code", code)[:1]
        body = AdverseEventIn.model_validate(
            {
                "subject_id": hexs(unit.item_id),
                "severity": whole("severity", severity, low=1, high=3),
                "event_date": need("event_date", event_date),
                "outcome": outcome or "unknown",
                "device_problem_code": device_problem_code.strip().upper() or None,
                "device_problem": need("device_problem", device_problem),
                "patient_age_band": patient_age_band or "unknown",
                "patient_sex": patient_sex or None,
                "narrative": need("narrative", narrative),
            }
        )
        try:
            result = adverse_events.report_event(ctx.services, member=ctx.signed_in, event=body)
        except ContractError as exc:
            if exc.name != "RecordsNotConcerned":
                raise
            raise _not_yours(code.strip().splitlines()[0].strip()) from exc
    except FAILURES as exc:
        return _report_form(ctx, values=typed, problem=exc)
    notice = ctx._("Adverse event report %(id)s recorded.") % {"id": result.report_id}
    return _report_form(ctx, values=_FRESH, notice=notice, index_pending=not result.indexed)


def _not_yours(typed: str) -> FormError:
    """A unit the hospital does not hold answers as one that does not exist."""
    detail = f"{typed} is not among the units you hold"
    return FormError("item_not_found", detail, {"code": detail}, {"code": typed})
