"""Return inspection (退货验收) in the portal: the goods that came back to the member
(rejected by the receiver of its shipment, or returned to it on a return order), per
shipment, each with the form that records the inspection per product and lot (received
back, condition, disposition, note) and the inspector (`domain.return_inspection`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from medledger.domain import return_inspection
from medledger.domain.partner_schemas import MAX_BATCH
from medledger.domain.return_inspection import Disposition
from medledger.portal.context import Csrf, Ctx, role_ctx
from medledger.portal.errors import ACTION_ERRORS as FAILURES
from medledger.portal.nav import NavItem, _l, register
from medledger.sdk.model import Role

__all__ = ["DISPOSITIONS", "router"]

router = APIRouter(prefix="/portal/return-inspections", include_in_schema=False)
HOLDERS = frozenset({Role.MANUFACTURER, Role.DISTRIBUTOR, Role.HOSPITAL})
Holder = Annotated[Ctx, role_ctx(*HOLDERS)]
ShipmentId = Annotated[int, Path(ge=1, le=2**64 - 1)]
register(NavItem("/portal/return-inspections", _l("Return inspection"), HOLDERS, 73))
DISPOSITIONS = {
    Disposition.RESTOCK: _l("Restock"),
    Disposition.QUARANTINE: _l("Quarantine"),
    Disposition.DESTROY: _l("Destroy"),
}
ORIGINS = {
    "rejected": _l("Rejected by the receiver"),
    "return_order": _l("Returned to you on a return order"),
}
MAX_FIELD = 4096


def _page(ctx: Ctx, **values: Any) -> HTMLResponse:
    found = return_inspection.awaiting(ctx.services, member=ctx.signed_in)
    return ctx.render(
        "return_inspection/list.html",
        returns=found,
        origins={k: ctx._(v) for k, v in ORIGINS.items()},
        dispositions=[(str(k), ctx._(v)) for k, v in DISPOSITIONS.items()],
        typed=values.pop("typed", {}),
        failed_shipment=values.pop("failed_shipment", None),
        **values,
    )


@router.get("")
def returns_page(ctx: Holder) -> HTMLResponse:
    return _page(ctx)


def _lines(typed: dict[str, str]) -> list[dict[str, Any]]:
    given = typed.get("line_count", "")
    count = int(given) if given.isdigit() and len(given) < 5 else 0
    return [
        {
            "gtin": typed.get(f"gtin_{i}", ""),
            "lot_number": typed.get(f"lot_{i}", ""),
            "received_back": typed.get(f"received_{i}", "") == "1",
            "condition": typed.get(f"condition_{i}", "").strip(),
            "disposition": typed.get(f"disposition_{i}", ""),
            "note": typed.get(f"note_{i}", "").strip(),
        }
        for i in range(min(count, MAX_BATCH))
    ]


def _record(ctx: Ctx, shipment_id: int, typed: dict[str, str]) -> HTMLResponse:
    try:
        body = return_inspection.ReturnInspectionIn.model_validate(
            {
                "inspector": typed.get("inspector", "").strip(),
                "note": typed.get("note", "").strip(),
                "lines": _lines(typed),
            }
        )
        return_inspection.record_inspection(
            ctx.services, member=ctx.signed_in, shipment_id=shipment_id, inspection=body
        )
    except FAILURES as exc:
        return _page(ctx, typed=typed, failed_shipment=shipment_id, problem=exc)
    notice = ctx._("The return inspection of shipment %(id)s is recorded.") % {"id": shipment_id}
    return _page(ctx, notice=notice)


@router.post("/{shipment_id}")
async def record(request: Request, ctx: Holder, _: Csrf, shipment_id: ShipmentId) -> Response:
    async with request.form(max_fields=8 * MAX_BATCH + 10) as form:
        typed = {
            k: v[:MAX_FIELD] for k, v in form.items() if isinstance(v, str) and k != "csrf_token"
        }
    return await run_in_threadpool(_record, ctx, shipment_id, typed)
