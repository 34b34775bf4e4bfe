"""The notification centre (`/portal/notifications`), for people without an ERP: the
events the member may see, newest first (the regulator's portal: every event), each
with its kind in words, its time in the page's locale and a link to the shipment, recall
or unit; unread ones marked, per signed-in user, with "mark all as read"; a filter by
kind. `notifications.js` (no inline script: the CSP) polls `/feed` every few seconds and
adds new events to the page without a reload, and `/unread` for the count beside
"Notifications" in the menu of every page."""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from medledger.domain.events import EventKind, LedgerEvent
from medledger.domain.notifications import UNREAD_CAP, mark_read, newest, unread_count
from medledger.portal.context import Csrf, Ctx, MemberCtx
from medledger.portal.nav import NavItem, _l, register
from medledger.sdk.model import Role

__all__ = ["KIND_LABELS", "router"]

PATH = "/portal/notifications"
router = APIRouter(prefix=PATH, include_in_schema=False)
register(NavItem(PATH, _l("Notifications"), frozenset(Role), 95))
POLL_SECONDS: Final = 3

KIND_LABELS: Final[dict[str, str]] = {
    "shipment.inbound": _l("Inbound shipment"),
    "shipment.received": _l("Shipment received"),
    "shipment.rejected": _l("Shipment rejected"),
    "shipment.cancelled": _l("Shipment cancelled"),
    "recall.issued": _l("Recall notice"),
    "recall.updated": _l("Recall updated"),
    "recall.closed": _l("Recall closed"),
    "item.quarantined": _l("Goods quarantined"),
    "item.released": _l("Released from quarantine"),
    "licence.changed": _l("Licence changed"),
    "alert.cold_chain": _l("Cold-chain alert"),
    "alert.scan_anomaly": _l("Scan anomaly"),
    "alert.adverse_event_rate": _l("Adverse-event rate alert"),
}
_KIND = r"^[a-z_]{1,20}\.[a-z_]{1,30}$"
KindQuery = Annotated[str, Query(max_length=60, pattern=_KIND)]
Seq = Annotated[int, Query(ge=0, le=2**62)]


def _kinds(kind: str | None) -> tuple[EventKind, ...]:
    if not kind:
        return ()
    try:
        return (EventKind(kind),)
    except ValueError:
        return ()  # a kind this ledger does not know: every kind (the select offers none)


def _label(ctx: Ctx, kind: str) -> str:
    label = KIND_LABELS.get(kind)
    return str(ctx.gettext.pgettext("notification", label)) if label else kind


def _party(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("name") or value.get("address") or "")
    return ""


def _subject(ctx: Ctx, body: dict[str, Any]) -> str:
    """The event's subject in words: product, lot, serial, shipment and counterparty."""
    subject = body.get("subject") or {}
    parts = []
    for key, label in (
        ("gtin", ctx._("GTIN")),
        ("lot", ctx._("Lot")),
        ("serial", ctx._("Serial")),
        ("shipment_id", ctx._("Shipment")),
    ):
        if subject.get(key) not in (None, ""):
            parts.append(f"{label} {subject[key]}")
    counterparty = _party(subject.get("counterparty"))
    if counterparty:
        parts.append(f"{ctx._('Counterparty')} {counterparty}")
    return " · ".join(parts)


def _trace(gtin: str | None, lot: str | None, serial: str | None) -> str | None:
    if gtin and serial:
        return f"/portal/trace?code={quote(f'(01){gtin}(21){serial}')}"
    if gtin and lot:
        return f"/portal/trace?code={quote(f'(01){gtin}(10){lot}')}"
    return None


def _href(ctx: Ctx, event: LedgerEvent, body: dict[str, Any]) -> str | None:
    """Where the event is looked at: its shipment, recall or unit page."""
    member = ctx.signed_in
    group = event.kind.split(".")[0]
    serial = (body.get("subject") or {}).get("serial")
    if group == "shipment" and not member.is_regulator:
        if str(event.data.get("sender", "")).lower() == member.address.lower():
            return "/portal/shipments/outbound"
        if event.kind == "shipment.inbound" and event.shipment_id is not None:
            return f"/portal/shipments/inbound/{event.shipment_id}"
        return "/portal/shipments/inbound"
    if group == "recall":
        recall = event.data.get("recall_id")
        if member.is_regulator:
            return f"/portal/regulator/recalls/{recall}" if recall else "/portal/regulator/recalls"
        if member.role is Role.MANUFACTURER:
            return "/portal/manufacturer/recalls"
        return "/portal/recalls"
    if group == "alert" and member.is_regulator:
        return "/portal/regulator/alerts"
    return _trace(event.gtin, event.lot, serial if isinstance(serial, str) else None)


def _rows(
    ctx: Ctx, feed_events: list[tuple[LedgerEvent, dict[str, Any]]], read_seq: int
) -> list[dict[str, Any]]:
    return [
        {
            "seq": event.seq,
            "kind": event.kind,
            "label": _label(ctx, event.kind),
            "time": ctx.fmt.datetime(event.occurred_at),
            "subject": _subject(ctx, body),
            "href": _href(ctx, event, body),
            "unread": event.seq > read_seq,
        }
        for event, body in feed_events
    ]


@router.get("")
def notifications_page(ctx: MemberCtx, kind: KindQuery = "") -> HTMLResponse:
    feed = newest(ctx.services, ctx.signed_in, ctx.staff.username, kinds=_kinds(kind))
    return ctx.render(
        "notifications/page.html",
        rows=_rows(ctx, feed.events, feed.read_seq),
        feed=feed,
        kind=kind,
        kinds=[(k, _label(ctx, k)) for k in KIND_LABELS],
        unread_cap=UNREAD_CAP,
        poll_seconds=POLL_SECONDS,
    )


@router.get("/feed")
def notifications_feed(ctx: MemberCtx, after: Seq = 0, kind: KindQuery = "") -> JSONResponse:
    """The events after seq `after` (newest first) and the unread count, for the poll."""
    feed = newest(ctx.services, ctx.signed_in, ctx.staff.username, kinds=_kinds(kind), after=after)
    rows = _rows(ctx, feed.events, feed.read_seq)
    return JSONResponse({"unread": feed.unread, "newest": feed.newest_seq, "events": rows})


@router.get("/unread")
def notifications_unread(ctx: MemberCtx) -> JSONResponse:
    return JSONResponse({"unread": unread_count(ctx.services, ctx.signed_in, ctx.staff.username)})


@router.post("/read")
def notifications_read(
    ctx: MemberCtx,
    _: Csrf,
    up_to: Annotated[int, Form(ge=0, le=2**62)],
    kind: Annotated[str, Form(max_length=60, pattern=_KIND)] = "",
) -> RedirectResponse:
    """Mark read every event up to the newest the page showed."""
    mark_read(ctx.services, ctx.signed_in, ctx.staff.username, up_to)
    target = PATH + (f"?kind={quote(kind)}" if kind else "")
    return RedirectResponse(target, status_code=303)
