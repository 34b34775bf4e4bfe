"""Recall pages (`domain.recalls`, the use cases the JSON routes share).

The regulator's recall centre (`centre`, included by `portal.routes.regulator` under
/portal/regulator/recalls): issue a recall, then watch its scope and progress per holder
live (htmx polls the progress fragment while the recall is open), with each holder's
acknowledgement against the 1/3/7-day deadline of the recall's level, and close it.
Issuing and closing are proposed by one QA user or manager of the regulator and done only
when a different one approves it on "Awaiting approval" (`domain.recall_approvals`).

Recall notices for the organisations holding recalled stock (`router`, /portal/recalls):
each open recall of a lot the member holds units of, with what it holds, the deadline of
the recall's level, and a form to acknowledge the notice, which the recall centre shows
per holder.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Annotated

from fastapi import APIRouter, Form, Path
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection

from medledger.domain import approvals, recall_approvals
from medledger.domain.auth import StaffRole
from medledger.domain.errors import NotFound
from medledger.domain.master_data import MasterRecord, current_record
from medledger.domain.recall_actions import (
    MAX_DESTROY_UNITS,
    AckIn,
    NoticeIn,
    acknowledge_signed,
    destroy_recalled,
    holder_notice,
)
from medledger.domain.recalls import (
    NOTICE_DAYS,
    RecallProblem,
    indexed_progress,
    notice_text,
    recall_list,
    recall_notices,
    recall_summary,
)
from medledger.domain.regulator import MAX_REASON
from medledger.portal.context import STAFF_POLICY, Csrf, Ctx, role_ctx
from medledger.portal.errors import FormError
from medledger.portal.forms import code_lot, read_code
from medledger.portal.nav import NavItem, _l, register
from medledger.portal.regulator.access import Regulator
from medledger.portal.regulator.forms import RecallForm, parse_form
from medledger.sdk.model import Role
from medledger.web.deps import ConnDep

__all__ = ["centre", "router"]

HOLDERS = (Role.DISTRIBUTOR, Role.LOGISTICS, Role.HOSPITAL)
Holder = Annotated[Ctx, role_ctx(*HOLDERS)]
router = APIRouter(prefix="/portal/recalls", include_in_schema=False)
register(NavItem("/portal/recalls", _l("Recall notices"), frozenset(HOLDERS), 55))
centre = APIRouter(prefix="/recalls")
# Ordering and closing a recall is a QA decision in the regulator's staff too.
STAFF_POLICY["/portal/regulator/recalls"] = StaffRole.QA

RecallId = Annotated[int, Path(ge=1, le=2**32 - 1)]
RECALL_HINTS = {
    "gtin": _l("Enter the product's GTIN (8 to 14 digits)."),
    "lot": _l("Enter the lot number (1-20 characters)."),
    "level": _l("Choose level 1, 2 or 3."),
    "reason": _l("Say why the lot is recalled."),
}
LEVELS = {
    1: _l("Level 1: serious health hazard; holders informed within 1 day"),
    2: _l("Level 2: temporary or reversible hazard; within 3 days"),
    3: _l("Level 3: hazard unlikely; within 7 days"),
}


def masters_of(ctx: Ctx, gtins: Iterable[str]) -> dict[str, MasterRecord]:
    """The current master record of each GTIN this deployment holds (for its names)."""
    found = {gtin: current_record(ctx.services, gtin) for gtin in set(gtins)}
    return {gtin: record for gtin, record in found.items() if record is not None}


def pending_recalls(ctx: Ctx) -> list[approvals.Approval]:
    """The organisation's recall proposals still awaiting a second person."""
    found = approvals.approvals_of(ctx.services, member=ctx.signed_in, state="pending")
    return [a for a in found if a.kind in (recall_approvals.ISSUE, recall_approvals.CLOSE)]


def _list_page(ctx: Ctx, conn: ConnDep, **extra: object) -> HTMLResponse:
    extra.setdefault("values", {"level": "1"})
    rows = recall_list(conn)
    return ctx.render(
        "regulator/recalls.html",
        recalls=rows,
        masters=masters_of(ctx, (r.gtin for r in rows)),
        levels=LEVELS,
        proposals=pending_recalls(ctx),
        now=int(time.time()),
        **extra,
    )


@centre.get("")
def recalls(ctx: Regulator, conn: ConnDep, proposed: str = "") -> HTMLResponse:
    return _list_page(ctx, conn, proposed=proposed[:32])


@centre.post("")
def issue(
    ctx: Regulator,
    conn: ConnDep,
    _: Csrf,
    gtin: Annotated[str, Form(max_length=200)] = "",
    lot: Annotated[str, Form(max_length=20)] = "",
    level: Annotated[str, Form(max_length=2)] = "",
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
    action: Annotated[str, Form(max_length=MAX_REASON)] = "",
    scope: Annotated[str, Form(max_length=2000)] = "",
    contact: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    values = {
        "gtin": gtin,
        "lot": lot,
        "level": level,
        "reason": reason,
        "action": action,
        "scope": scope,
        "contact": contact,
    }
    try:
        gtin, lot = code_lot("gtin", gtin, lot)  # a lot's code scanned into the GTIN field
        form = parse_form(
            RecallForm,
            {k: v.strip() for k, v in {**values, "gtin": gtin, "lot": lot}.items()},
            hints=RECALL_HINTS,
            gettext=ctx._,
        )
        proposed = recall_approvals.propose_issue(
            ctx.services,
            member=ctx.signed_in,
            proposer=ctx.require_staff(StaffRole.QA),
            gtin=form.gtin,
            lot=form.lot,
            level=form.level,
            notice=NoticeIn(
                reason=form.reason, action=form.action, scope=form.scope, contact=form.contact
            ),
        )
    except Exception as exc:  # noqa: BLE001 (ctx.render re-raises what it cannot explain)
        return _list_page(ctx, conn, values=values, problem=exc)
    return RedirectResponse(f"/portal/regulator/recalls?proposed={proposed.id}", status_code=303)


def _detail(ctx: Ctx, conn: ConnDep, recall_id: int, template: str, **extra: object) -> Response:
    try:
        progress = indexed_progress(ctx.services, conn, recall_id)
    except NotFound as exc:
        return ctx.render("error.html", problem=exc, status_code=exc.status)
    return ctx.render(
        template,
        recall_id=recall_id,
        progress=progress,
        masters=masters_of(ctx, [progress.gtin] if progress else []),
        notice=None if progress is None else notice_text(ctx.services, conn, recall_id),
        summary=None if progress is None else recall_summary(ctx.services, conn, recall_id),
        notice_days=NOTICE_DAYS,
        proposals=[a for a in pending_recalls(ctx) if a.payload.get("recall_id") == recall_id],
        now=int(time.time()),
        **extra,
    )


@centre.get("/{recall_id}")
def recall(ctx: Regulator, conn: ConnDep, recall_id: RecallId, proposed: str = "") -> Response:
    return _detail(ctx, conn, recall_id, "regulator/recall.html", proposed=proposed[:32])


@centre.get("/{recall_id}/progress")
def progress(ctx: Regulator, conn: ConnDep, recall_id: RecallId) -> Response:
    """The live part of the recall page (polled by htmx)."""
    return _detail(ctx, conn, recall_id, "regulator/recall_progress.html")


@centre.post("/{recall_id}/close")
def close(
    ctx: Regulator,
    conn: ConnDep,
    _: Csrf,
    recall_id: RecallId,
    outcome: Annotated[str, Form(max_length=MAX_REASON)] = "",
    confirm_outstanding: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    values = {"outcome": outcome, "confirm_outstanding": confirm_outstanding}
    try:
        proposed = recall_approvals.propose_close(
            ctx.services,
            member=ctx.signed_in,
            proposer=ctx.require_staff(StaffRole.QA),
            recall_id=recall_id,
            reason=outcome,
            confirm_outstanding=confirm_outstanding == "yes",
        )
    except Exception as exc:  # noqa: BLE001
        return _detail(ctx, conn, recall_id, "regulator/recall.html", values=values, problem=exc)
    return RedirectResponse(
        f"/portal/regulator/recalls/{recall_id}?proposed={proposed.id}", status_code=303
    )


# ------------------------------------------------------------------ recall notices


def _page(ctx: Ctx, conn: Connection, **extra: object) -> HTMLResponse:
    holder = ctx.signed_in.address
    notices = recall_notices(ctx.services, conn, holder=holder)
    texts = {
        n.progress.scope.recall_id: holder_notice(
            ctx.services, conn, n.progress.scope.recall_id, holder=holder
        )
        for n in notices
    }
    return ctx.render(
        "trace/recall_notices.html",
        notices=notices,
        texts=texts,
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
    recall_id: RecallId,
    note: Annotated[str, Form(max_length=2000)] = "",
    returned: Annotated[str, Form(max_length=10)] = "0",
    destroyed: Annotated[str, Form(max_length=10)] = "0",
) -> Response:
    values = {"note": note, "returned": returned, "destroyed": destroyed, "recall": recall_id}
    try:
        ack = AckIn.model_validate(
            {"note": note, "returned": returned or "0", "destroyed": destroyed or "0"}
        )
        acknowledge_signed(ctx.services, conn, recall_id, member=ctx.signed_in, ack=ack)
    except Exception as exc:  # noqa: BLE001 (ctx.render re-raises what it cannot explain)
        return _page(ctx, conn, values=values, problem=exc)
    return RedirectResponse("/portal/recalls", status_code=303)


@router.post("/{recall_id}/destroy")
def destroy_units(
    ctx: Holder,
    conn: ConnDep,
    _: Csrf,
    recall_id: RecallId,
    codes: Annotated[str, Form(max_length=40_000)] = "",
    destroy_note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Destroy serialised units of the recalled lot the member holds: one code per line
    (any form a label carries), signed with the member's key."""
    values = {"codes": codes, "destroy_note": destroy_note, "recall": recall_id}
    try:
        progress = indexed_progress(ctx.services, conn, recall_id)
        if progress is None:
            raise NotFound(RecallProblem.UNKNOWN, f"no recall {recall_id} on the ledger")
        units = []
        # split("\n"), not splitlines(): a scanned GS1 code carries GS (\x1d) separators,
        # which splitlines() and strip() would treat as line breaks and whitespace.
        lines = [x.strip(" \t\r") for x in codes.split("\n") if x.strip(" \t\r")]
        for n, line in enumerate(lines[: MAX_DESTROY_UNITS + 1], start=1):
            udi = read_code("codes", line, line=n)
            if udi.gtin != progress.gtin or (udi.lot is not None and udi.lot != progress.lot):
                raise FormError(
                    RecallProblem.WRONG_LOT,
                    f"line {n}: not a unit of lot {progress.lot}",
                    {"codes": f"{n}: {line}"},
                )
            units.append((udi.item_id, line))
        destroy_recalled(
            ctx.services, conn, recall_id, member=ctx.signed_in, units=units, note=destroy_note
        )
    except Exception as exc:  # noqa: BLE001 (ctx.render re-raises what it cannot explain)
        return _page(ctx, conn, values=values, problem=exc)
    return RedirectResponse("/portal/recalls", status_code=303)
