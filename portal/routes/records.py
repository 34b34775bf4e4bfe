"""Sealed records in the portal: the records about a unit (its history as its parties read
it: explants, service records, returns, use records, adverse events), one record's
content, and for a regulator the check of a record against its on-chain commitment
(`domain.record_check`). Hospitals record explants; holders and manufacturers record
service (installation, maintenance, calibration, repair); holders return goods to their
supplier (退货) on a shipment carrying the sealed reason (`domain.returns`,
`domain.service_records`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query
from fastapi.responses import HTMLResponse

from medledger.domain import record_check, returns, service_records, unit_records
from medledger.domain.items import parse_id
from medledger.domain.records import RecordKind
from medledger.portal.context import Csrf, Ctx, MemberCtx, role_ctx
from medledger.portal.errors import ACTION_ERRORS as FAILURES
from medledger.portal.forms import codes, need
from medledger.portal.nav import NavItem, _l, register
from medledger.sdk.model import Role

__all__ = ["FIELDS", "KINDS", "router"]

router = APIRouter(prefix="/portal/records", include_in_schema=False)
HOLDERS = frozenset({Role.HOSPITAL, Role.DISTRIBUTOR, Role.MANUFACTURER})
Holder = Annotated[Ctx, role_ctx(*HOLDERS)]
Hospital = Annotated[Ctx, role_ctx(Role.HOSPITAL)]
register(NavItem("/portal/records", _l("Returns and service"), HOLDERS | {Role.REGULATOR}, 72))
RecordId = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_-]+$")]
Text = Annotated[str, Form(max_length=4096)]
KINDS = {
    RecordKind.ACCEPTANCE: _l("Acceptance record"),
    RecordKind.ADVERSE_EVENT: _l("Adverse-event report"),
    RecordKind.DESTRUCTION: _l("Destruction record"),
    RecordKind.DISPENSE: _l("Use record"),
    RecordKind.EXPLANT: _l("Explant"),
    RecordKind.QC_RELEASE: _l("QC release"),
    RecordKind.QUARANTINE: _l("Quarantine reason"),
    RecordKind.RELEASE: _l("Release record"),
    RecordKind.RETURN: _l("Return order"),
    RecordKind.SERVICE: _l("Service record"),
    RecordKind.SHIPMENT_NOTE: _l("Delivery note"),
}
# The names of a record's fields as the record page shows them.
FIELDS = {
    "action": _l("Action"),
    "condition": _l("Condition of the device"),
    "explant_date": _l("Date of the explant"),
    "gtin": _l("GTIN"),
    "item_ids": _l("Units"),
    "lot": _l("Lot"),
    "lots": _l("Lots"),
    "next_due": _l("Next due"),
    "note": _l("Notes"),
    "notes": _l("Notes"),
    "qc_release": _l("QC release"),
    "reason": _l("Reason"),
    "receiver": _l("Receiver"),
    "reference": _l("Record or reference number"),
    "result": _l("Result"),
    "returned_to_manufacturer": _l("Returned to the manufacturer"),
    "service_date": _l("Date of the service"),
    "service_type": _l("Type of service"),
    "technician_org": _l("Service organisation"),
    "use": _l("Use"),
}
SERVICE_TYPES = {
    "installation": _l("Installation"),
    "maintenance": _l("Maintenance"),
    "calibration": _l("Calibration"),
    "repair": _l("Repair"),
}
SERVICE_RESULTS = {
    "passed": _l("Passed"),
    "adjusted": _l("Adjusted"),
    "repaired": _l("Repaired"),
    "failed": _l("Failed"),
    "out_of_service": _l("Out of service"),
}
RETURN_REASONS = {
    "damaged": _l("Damaged"),
    "wrong_item": _l("Wrong item"),
    "expired": _l("Expired"),
    "recalled": _l("Recalled"),
    "quality": _l("Quality problem"),
    "surplus": _l("Surplus"),
    "other": _l("Other"),
}


def _page(ctx: Ctx, **values: Any) -> HTMLResponse:
    values.setdefault("values", {})
    return ctx.render(
        "records/forms.html",
        service_types=[(k, ctx._(v)) for k, v in SERVICE_TYPES.items()],
        service_results=[(k, ctx._(v)) for k, v in SERVICE_RESULTS.items()],
        return_reasons=[(k, ctx._(v)) for k, v in RETURN_REASONS.items()],
        **values,
    )


@router.get("")
def records_page(ctx: MemberCtx) -> HTMLResponse:
    return _page(ctx)


@router.get("/unit")
def unit_page(ctx: MemberCtx, code: Annotated[str, Query(max_length=512)] = "") -> HTMLResponse:
    """The records about a unit that the member may read."""
    try:
        typed = code.strip()
        if typed.startswith("0x"):  # the item id the trace page links with
            item_id = parse_id(typed, "item")
        else:
            (unit,) = codes("code", code)[:1]
            item_id = unit.item_id
        found = unit_records.unit_records(ctx.services, item_id, member=ctx.signed_in)
    except FAILURES as exc:
        return _page(ctx, values={"code": code}, problem=exc)
    return ctx.render(
        "records/unit.html",
        code=code,
        item_id="0x" + item_id.hex(),
        records=found,
        kinds=KINDS,
    )


@router.get("/{record_id}")
def record_page(record_id: RecordId, ctx: MemberCtx) -> HTMLResponse:
    member = ctx.signed_in
    view = unit_records.read_record(ctx.services, record_id, member=member, kinds=None)
    check = (
        record_check.check_record(ctx.services, record_id, member=member)
        if member.is_regulator
        else None
    )
    words = {**SERVICE_TYPES, **SERVICE_RESULTS, **RETURN_REASONS}
    return ctx.render(
        "records/read.html", view=view, check=check, kinds=KINDS, fields=FIELDS, words=words
    )


@router.post("/explant")
def explant(
    ctx: Hospital,
    _: Csrf,
    code: Text = "",
    explant_date: Text = "",
    reason: Text = "",
    condition: Text = "",
    returned_to_manufacturer: Text = "",
) -> HTMLResponse:
    typed = {
        "code": code,
        "explant_date": explant_date,
        "reason": reason,
        "condition": condition,
        "returned_to_manufacturer": returned_to_manufacturer,
    }
    try:
        (unit,) = codes("code", code)[:1]
        body = returns.ExplantIn.model_validate(
            {
                "item_id": "0x" + unit.item_id.hex(),
                "explant_date": need("explant_date", explant_date),
                "reason": need("reason", reason),
                "condition": condition.strip(),
                "returned_to_manufacturer": bool(returned_to_manufacturer),
            }
        )
        returns.explant(ctx.services, member=ctx.signed_in, record=body)
    except FAILURES as exc:
        return _page(ctx, values=typed, problem=exc)
    return _page(ctx, notice=ctx._("The explant is recorded."))


@router.post("/service")
def service(
    ctx: Holder,
    _: Csrf,
    service_code: Text = "",
    service_date: Text = "",
    service_type: Text = "",
    result: Text = "",
    technician_org: Text = "",
    notes: Text = "",
    next_due: Text = "",
) -> HTMLResponse:
    typed = {
        "service_code": service_code,
        "service_date": service_date,
        "service_type": service_type,
        "result": result,
        "technician_org": technician_org,
        "notes": notes,
        "next_due": next_due,
    }
    try:
        (unit,) = codes("service_code", service_code)[:1]
        body = service_records.ServiceIn.model_validate(
            {
                "item_id": "0x" + unit.item_id.hex(),
                "service_date": need("service_date", service_date),
                "service_type": need("service_type", service_type),
                "result": need("result", result),
                "technician_org": technician_org.strip() or None,
                "notes": notes.strip(),
                "next_due": next_due.strip() or None,
            }
        )
        service_records.record_service(ctx.services, member=ctx.signed_in, record=body)
    except FAILURES as exc:
        return _page(ctx, values=typed, problem=exc)
    return _page(ctx, notice=ctx._("The service record is saved."))


@router.post("/return")
def return_order(
    ctx: Holder,
    _: Csrf,
    supplier: Text = "",
    contents: Text = "",
    return_reason: Text = "",
    note: Text = "",
) -> HTMLResponse:
    typed = {
        "supplier": supplier,
        "contents": contents,
        "return_reason": return_reason,
        "note": note,
    }
    try:
        units = codes("contents", contents)
        body = returns.ReturnIn.model_validate(
            {
                "supplier": need("supplier", supplier).strip(),
                "item_ids": ["0x" + u.item_id.hex() for u in units],
                "reason": need("return_reason", return_reason),
                "note": note.strip(),
            }
        )
        sent = returns.return_order(ctx.services, member=ctx.signed_in, order=body)
    except FAILURES as exc:
        return _page(ctx, values=typed, problem=exc)
    notice = ctx._("Return shipment %(id)s is on its way.") % {"id": sent.shipment_id}
    return _page(ctx, notice=notice)
