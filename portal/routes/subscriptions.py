"""Event subscriptions (webhooks) for a member's manager or QA: each subscription's status,
its latest deliveries and its dead letters with a replay (or an explicit, audited skip)
button; create, pause, resume and delete (`domain.subscriptions`). The secret is shown
once, on the page that answers its creation. On the regulator's portal the subscriptions
are the regulator's (every event)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path
from fastapi.responses import HTMLResponse

from medledger.domain import subscriptions as subs
from medledger.domain.auth import StaffRole
from medledger.domain.events import EventKind
from medledger.indexer.queries.events import last_seq
from medledger.portal.context import NAV_STAFF, STAFF_POLICY, Csrf, Ctx, MemberCtx
from medledger.portal.errors import ACTION_ERRORS as FAILURES
from medledger.portal.nav import NavItem, _l, register
from medledger.sdk.model import Role

__all__ = ["KIND_LABELS", "router"]

PATH = "/portal/subscriptions"
router = APIRouter(prefix=PATH, include_in_schema=False)
register(NavItem(PATH, _l("Event subscriptions"), frozenset(Role), 90))
STAFF_POLICY[PATH] = StaffRole.QA
NAV_STAFF[PATH] = StaffRole.QA

KIND_LABELS: dict[str, str] = {
    EventKind.SHIPMENT_INBOUND: _l("Inbound shipment"),
    EventKind.SHIPMENT_RECEIVED: _l("Shipment received"),
    EventKind.SHIPMENT_REJECTED: _l("Shipment rejected"),
    EventKind.SHIPMENT_CANCELLED: _l("Shipment cancelled"),
    EventKind.RECALL_ISSUED: _l("Recall issued"),
    EventKind.RECALL_UPDATED: _l("Recall notice updated"),
    EventKind.RECALL_CLOSED: _l("Recall closed"),
    EventKind.ITEM_QUARANTINED: _l("Goods quarantined"),
    EventKind.ITEM_RELEASED: _l("Goods released"),
    EventKind.LICENCE_CHANGED: _l("Licence changed"),
    EventKind.ALERT_COLD_CHAIN: _l("Cold-chain alert"),
    EventKind.ALERT_SCAN_ANOMALY: _l("Scan anomaly alert"),
    EventKind.ALERT_ADVERSE_EVENT_RATE: _l("Adverse-event rate alert"),
}
SubId = Annotated[str, Path(min_length=5, max_length=32, pattern=r"^sub_[0-9a-f]+$")]


def _owner(ctx: Ctx) -> str:
    return subs.REGULATOR_OWNER if ctx.services.settings.regulator else ctx.signed_in.address


def _page(ctx: Ctx, **values: object) -> HTMLResponse:
    ctx.require_staff(StaffRole.QA)
    owner = _owner(ctx)
    found = subs.listing(ctx.services, owner=owner)
    deliveries = {
        s.id: subs.delivery_states(ctx.services, owner=owner, sub_id=s.id, state=None, limit=5)
        for s in found
    }
    dead = {
        s.id: subs.delivery_states(ctx.services, owner=owner, sub_id=s.id, state="dead", limit=20)
        for s in found
    }
    values.setdefault("values", {})
    return ctx.render(
        "subscriptions/page.html",
        subscriptions=found,
        deliveries=deliveries,
        dead=dead,
        kind_labels=KIND_LABELS,
        **values,
    )


@router.get("")
def subscriptions_page(ctx: MemberCtx) -> HTMLResponse:
    return _page(ctx)


@router.post("")
def create(
    ctx: MemberCtx,
    _: Csrf,
    url: Annotated[str, Form(max_length=subs.MAX_URL)] = "",
    kinds: Annotated[list[str] | None, Form(max_length=len(EventKind))] = None,
) -> HTMLResponse:
    staff = ctx.require_staff(StaffRole.QA)
    try:
        body = subs.SubscriptionIn.model_validate({"url": url.strip(), "kinds": kinds or []})
        with ctx.services.engine.connect() as conn:
            cursor = last_seq(conn)
        created = subs.create(
            ctx.services, owner=_owner(ctx), created_by=staff.username, body=body, cursor=cursor
        )
    except FAILURES as exc:
        return _page(ctx, values={"url": url}, problem=exc)
    return _page(ctx, created=created, notice=ctx._("The subscription is created."))


@router.post("/{sub_id}")
def act(
    sub_id: SubId,
    ctx: MemberCtx,
    _: Csrf,
    action: Annotated[str, Form(pattern=r"^(pause|resume|delete|replay|skip)$")],
    seq: Annotated[int, Form(ge=0, le=2**62)] = 0,
) -> HTMLResponse:
    ctx.require_staff(StaffRole.QA)
    owner, services = _owner(ctx), ctx.services
    try:
        if action in ("pause", "resume"):
            subs.set_paused(services, owner=owner, sub_id=sub_id, paused=action == "pause")
        elif action == "delete":
            subs.remove(services, owner=owner, sub_id=sub_id)
        elif action == "replay":
            subs.replay(services, owner=owner, sub_id=sub_id, seq=seq)
        else:
            subs.skip(services, owner=owner, sub_id=sub_id, seq=seq)
    except FAILURES as exc:
        return _page(ctx, problem=exc)
    return _page(ctx, notice=ctx._("Done."))
