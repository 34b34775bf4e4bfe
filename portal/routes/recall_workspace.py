"""The manufacturer's recall workspace (/portal/manufacturer/recalls): it recalls a lot of
its own with a readable notice (reason, required action, scope, contact), publishes new
versions of the notice, follows the recall per holder against the level's deadline, and
closes it (with units outstanding or holders unacknowledged only with a reason and a
confirmation). The use cases are `domain.recall_actions`; the regulator's recall centre
is `portal.routes.recalls.centre`.

Issuing and closing are maker-checker actions (`domain.recall_approvals`): the form
proposes, and the recall is issued or closed on chain only when a different QA user or
manager of the organisation approves it on "Awaiting approval" (`/portal/approvals`).
New versions of the notice are published at once.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Form, Path
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection

from medledger.domain import recall_actions, recall_approvals
from medledger.domain.auth import StaffRole
from medledger.domain.errors import NotFound
from medledger.domain.recall_actions import NoticeIn
from medledger.domain.recalls import (
    NOTICE_DAYS,
    RecallProblem,
    indexed_progress,
    notice_text,
    recall_list,
    recall_summary,
)
from medledger.domain.regulator import MAX_REASON
from medledger.portal.context import STAFF_POLICY, Csrf, Ctx, role_ctx
from medledger.portal.forms import code_lot
from medledger.portal.nav import NavItem, _l, register
from medledger.portal.regulator.forms import RecallForm, parse_form
from medledger.portal.routes.recalls import LEVELS, RECALL_HINTS, masters_of, pending_recalls
from medledger.sdk.model import Role
from medledger.web.deps import ConnDep

__all__ = ["router"]

Manufacturer = Annotated[Ctx, role_ctx(Role.MANUFACTURER)]
router = APIRouter(prefix="/portal/manufacturer/recalls", include_in_schema=False)
register(NavItem("/portal/manufacturer/recalls", _l("Recalls"), frozenset({Role.MANUFACTURER}), 56))
# Issuing, updating and closing a recall is a QA decision, not a clerk's.
STAFF_POLICY["/portal/manufacturer/recalls"] = StaffRole.QA

RecallId = Annotated[int, Path(ge=1, le=2**32 - 1)]
NOTICE_FIELDS = ("reason", "action", "scope", "contact")


def _list(ctx: Ctx, conn: Connection, **extra: object) -> HTMLResponse:
    extra.setdefault("values", {"level": "1"})
    rows = recall_list(conn, manufacturer=ctx.signed_in.address)
    return ctx.render(
        "recalls/workspace.html",
        recalls=rows,
        masters=masters_of(ctx, (r.gtin for r in rows)),
        levels=LEVELS,
        proposals=pending_recalls(ctx),
        now=int(time.time()),
        **extra,
    )


@router.get("")
def recalls(ctx: Manufacturer, conn: ConnDep, proposed: str = "") -> HTMLResponse:
    return _list(ctx, conn, proposed=proposed[:32])


@router.post("")
def issue(
    ctx: Manufacturer,
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
    values = {"gtin": gtin, "lot": lot, "level": level, "reason": reason, "action": action}
    values |= {"scope": scope, "contact": contact}
    try:
        gtin, lot = code_lot("gtin", gtin, lot)
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
            notice=_notice(values),
        )
    except Exception as exc:  # noqa: BLE001 (ctx.render re-raises what it cannot explain)
        return _list(ctx, conn, values=values, problem=exc)
    return RedirectResponse(f"/portal/manufacturer/recalls?proposed={proposed.id}", status_code=303)


def _notice(values: dict[str, str]) -> NoticeIn:
    v = {k: values.get(k, "").strip() for k in NOTICE_FIELDS}
    return NoticeIn(reason=v["reason"], action=v["action"], scope=v["scope"], contact=v["contact"])


def _detail(ctx: Ctx, conn: Connection, recall_id: int, **extra: object) -> Response:
    """The recall if the signed-in manufacturer made its lot; 404 otherwise (a recall of
    someone else's lot is not disclosed)."""
    try:
        progress = indexed_progress(ctx.services, conn, recall_id)
        if progress is not None and progress.scope.manufacturer.address != ctx.signed_in.address:
            raise NotFound(RecallProblem.UNKNOWN, f"no recall {recall_id} on the ledger")
    except NotFound as exc:
        return ctx.render("error.html", problem=exc, status_code=exc.status)
    notice = None
    if progress is not None:
        notice = notice_text(
            ctx.services, conn, recall_id, reader=ctx.signed_in.address, regulator=False
        )
    extra.setdefault("values", {k: getattr(notice, k, "") for k in NOTICE_FIELDS})
    return ctx.render(
        "recalls/workspace_recall.html",
        recall_id=recall_id,
        progress=progress,
        summary=None if progress is None else recall_summary(ctx.services, conn, recall_id),
        notice=notice,
        notice_days=NOTICE_DAYS,
        proposals=[a for a in pending_recalls(ctx) if a.payload.get("recall_id") == recall_id],
        now=int(time.time()),
        **extra,
    )


@router.get("/{recall_id}")
def recall(ctx: Manufacturer, conn: ConnDep, recall_id: RecallId, proposed: str = "") -> Response:
    return _detail(ctx, conn, recall_id, proposed=proposed[:32])


@router.post("/{recall_id}/notice")
def update(
    ctx: Manufacturer,
    conn: ConnDep,
    _: Csrf,
    recall_id: RecallId,
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
    action: Annotated[str, Form(max_length=MAX_REASON)] = "",
    scope: Annotated[str, Form(max_length=2000)] = "",
    contact: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    values = {"reason": reason, "action": action, "scope": scope, "contact": contact}
    try:
        _own(ctx, conn, recall_id)
        recall_actions.update(
            ctx.services, conn, by=ctx.signed_in, recall_id=recall_id, notice=_notice(values)
        )
    except Exception as exc:  # noqa: BLE001
        return _detail(ctx, conn, recall_id, values=values, problem=exc)
    return RedirectResponse(f"/portal/manufacturer/recalls/{recall_id}", status_code=303)


def _own(ctx: Ctx, conn: Connection, recall_id: int) -> None:
    progress = indexed_progress(ctx.services, conn, recall_id)
    if progress is None or progress.scope.manufacturer.address != ctx.signed_in.address:
        raise NotFound(RecallProblem.UNKNOWN, f"no recall {recall_id} on the ledger")


@router.post("/{recall_id}/close")
def close(
    ctx: Manufacturer,
    conn: ConnDep,
    _: Csrf,
    recall_id: RecallId,
    outcome: Annotated[str, Form(max_length=MAX_REASON)] = "",
    confirm_outstanding: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    values = {"outcome": outcome, "confirm_outstanding": confirm_outstanding}
    try:
        _own(ctx, conn, recall_id)
        proposed = recall_approvals.propose_close(
            ctx.services,
            member=ctx.signed_in,
            proposer=ctx.require_staff(StaffRole.QA),
            recall_id=recall_id,
            reason=outcome,
            confirm_outstanding=confirm_outstanding == "yes",
        )
    except Exception as exc:  # noqa: BLE001
        return _detail(ctx, conn, recall_id, close_values=values, problem=exc)
    return RedirectResponse(
        f"/portal/manufacturer/recalls/{recall_id}?proposed={proposed.id}", status_code=303
    )
