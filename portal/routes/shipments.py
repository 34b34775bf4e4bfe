"""Shipments for every partner role: outbound (ship codes to another member, with a
delivery note: its number, the purchase order, despatch advice and invoice numbers and the
ship-from and ship-to sites, sealed for the parties; units, cases and pallets by code, and
loose quantities of lot-tracked devices per lot, with the quantities available shown) and
inbound (the acceptance form: counts per lot, accept or reject each unit or container,
reject part of each loose lot quantity, temperature min/max and excursion, inspection
note, documents). Writes go through the same use cases as the JSON API (`domain.items`,
`api.routes.documents`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from medledger.domain import acceptance, items
from medledger.domain.chain import reader
from medledger.domain.errors import NotFound, Unprocessable
from medledger.domain.lot_custody import LotAvailability
from medledger.domain.partner_schemas import OperationOut, ReceiveIn, ShipIn, hexs
from medledger.indexer.queries.counterparties import organisation_name, partners
from medledger.indexer.queries.loose_lots import loose_lots, lot_names
from medledger.indexer.queries.shipments import ShippedLine, shipment_lines, shipments_of
from medledger.indexer.queries.sites import sites_of
from medledger.portal.context import Csrf, Ctx, role_ctx
from medledger.portal.errors import ACTION_ERRORS as FAILURES
from medledger.portal.errors import FormError
from medledger.portal.forms import codes, tenths, whole
from medledger.portal.lot_forms import LotLine, as_body, lot_lines
from medledger.portal.nav import NavItem, _l, register
from medledger.portal.pending import pending_param
from medledger.portal.routes.documents import (
    DELIVERY_NOTE,
    INSPECTION_RECORD,
    Recorded,
    attach_after,
    check_sizes,
    documents_about,
    form_fields,
)
from medledger.portal.vocabulary import word
from medledger.sdk.model import Role, ShipmentStatus
from medledger.web.deps import ConnDep

__all__ = ["router"]

router = APIRouter(prefix="/portal/shipments", include_in_schema=False)
PARTNERS = frozenset({Role.MANUFACTURER, Role.DISTRIBUTOR, Role.LOGISTICS, Role.HOSPITAL})
Partner = Annotated[Ctx, role_ctx(*PARTNERS)]
ShipmentId = Annotated[int, Path(ge=1, le=2**64 - 1)]  # the ledger's uint64 ids
register(
    NavItem("/portal/shipments/inbound", _l("Inbound"), PARTNERS, 50),
    NavItem("/portal/shipments/outbound", _l("Outbound"), PARTNERS - {Role.HOSPITAL}, 60),
)


def _subject(shipment_id: int) -> bytes:
    return shipment_id.to_bytes(32, "big")


# ------------------------------------------------------------------ outbound


def _outbound(ctx: Ctx, conn: ConnDep, **values: Any) -> HTMLResponse:
    me = ctx.signed_in.address
    values.setdefault("loose", [lot for lot in loose_lots(conn, me) if lot.active])
    others = partners(conn, excluding=me)
    receivers = [(p.address, f"{p.name} · {ctx._(word(p.role.name))}") for p in others]
    primary = [("", ctx._("— the organisation's primary GLN —"))]
    return ctx.render(
        "shipments/outbound.html",
        receiver_options=receivers,
        from_options=primary + _site_options(conn, [(me, "")]),
        to_options=primary + _site_options(conn, [(p.address, p.name) for p in others]),
        shipments=shipments_of(conn, me, side="outbound"),
        receive_links=False,
        pending=ShipmentStatus.IN_TRANSIT,
        **values,
    )


@router.get("/outbound")
def outbound(
    ctx: Partner, conn: ConnDep, sent: int | None = None, pending: str = ""
) -> HTMLResponse:
    notice = ctx._("Shipment %(id)s is on its way.") % {"id": sent} if sent else None
    return _outbound(ctx, conn, values={}, notice=notice, index_pending=bool(sent and pending))


@router.post("/outbound")
async def ship(request: Request, ctx: Partner, conn: ConnDep, _: Csrf) -> Response:
    async with request.form() as form:  # closes the uploaded files afterwards
        typed, files = form_fields(form)
        return await run_in_threadpool(_ship, ctx, conn, typed, files)


def _ship(ctx: Ctx, conn: ConnDep, typed: dict[str, str], files: list[UploadFile]) -> Response:
    try:
        loose = lot_lines("lots", typed.get("lots", ""))
        contents = typed.get("contents", "")
        shipped = codes("contents", contents) if contents.strip() or not loose else []
        body = _ship_body(typed, shipped, loose)
        check_sizes(files)
        sent = _ship_checked(ctx, body, loose)
        assert sent.shipment_id is not None
    except FAILURES as exc:
        return _outbound(ctx, conn, values=typed, problem=exc)
    next_url = f"/portal/shipments/outbound?{pending_param(sent)}sent={sent.shipment_id}"
    on_its_way = ctx._("Shipment %(id)s is on its way.") % {"id": sent.shipment_id}
    not_stored = attach_after(
        ctx,
        files,
        Recorded([on_its_way], sent.tx_hash, next_url),
        subject=_subject(sent.shipment_id),
        kind=DELIVERY_NOTE,
        counterparty=body.receiver,
    )
    return not_stored or RedirectResponse(next_url, status_code=303)


# The business numbers the ship form asks for, as CBV business transaction types.
BIZ_FIELDS = ("po", "desadv", "inv")
SITE_FIELDS = {
    "ship_from_not_sender_site": "ship_from_site",
    "ship_to_not_receiver_site": "ship_to_site",
}


def _site_options(conn: ConnDep, members: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(GLN, label) of each member's active sites other than its primary GLN."""
    return [
        (s.gln, " · ".join(p for p in (owner, s.name, s.gln) if p))
        for address, owner in members
        for s in sites_of(conn, address)
        if s.active and not s.is_primary
    ]


def _delivery_note(typed: dict[str, str]) -> tuple[dict[str, Any] | None, list[str]]:
    """The sealed delivery note the form gives (None: nothing typed) and the form field of
    each business transaction, in order."""
    named = [(k, typed.get(k, "").strip()) for k in BIZ_FIELDS]
    named = [(k, v) for k, v in named if v]
    note: dict[str, Any] = {
        "note": typed.get("note", "").strip(),
        "biz_transactions": [{"type": k, "id": v} for k, v in named],
        "ship_from_site": typed.get("ship_from_site", "").strip() or None,
        "ship_to_site": typed.get("ship_to_site", "").strip() or None,
    }
    return (note if any(note.values()) else None), [k for k, _ in named]


def _ship_body(typed: dict[str, str], shipped: list[Any], loose: list[LotLine]) -> ShipIn:
    """The shipment order; a bad business number or site is an error on its own field."""
    record, biz_fields = _delivery_note(typed)
    try:
        return ShipIn.model_validate(
            {
                "receiver": typed.get("receiver", ""),
                "item_ids": [hexs(u.item_id) for u in shipped],
                "lots": as_body(loose),
                "record": record,  # sealed for the receiver and the regulator
            }
        )
    except ValidationError as exc:
        fields = {}
        for e in exc.errors():
            loc = [str(p) for p in e["loc"]]
            if loc[:2] == ["record", "biz_transactions"] and len(loc) > 2:
                fields[biz_fields[int(loc[2])]] = e["msg"]
            elif loc[:1] == ["record"] and len(loc) > 1:
                fields[loc[1]] = e["msg"]
            else:
                fields[".".join(loc) or "form"] = e["msg"]
        raise FormError("invalid_request", str(exc), fields) from exc


def _ship_checked(ctx: Ctx, body: ShipIn, loose: list[LotLine]) -> OperationOut:
    """Ship; a lot quantity over what is available is a field error naming the lot and
    the quantity available, before anything is signed."""
    try:
        return items.ship(ctx.services, member=ctx.signed_in, order=body)
    except LotAvailability as short:
        line = next(q for q in loose if hexs(q.lot_key) == short.extra["lot_key"])
        params = {
            "lot": f"{line.gtin} {line.lot}",
            "available": ctx.fmt.number(short.extra["available"]),
            "requested": ctx.fmt.number(short.extra["requested"]),
        }
        raise FormError(short.code, short.detail, {"lots": short.detail}, params) from short
    except Unprocessable as bad:
        if bad.code not in SITE_FIELDS:
            raise
        raise FormError(bad.code, bad.detail, {SITE_FIELDS[bad.code]: bad.detail}) from bad


# ------------------------------------------------------------------ inbound


@router.get("/inbound")
def inbound(ctx: Partner, conn: ConnDep) -> HTMLResponse:
    rows = shipments_of(conn, ctx.signed_in.address, side="inbound")
    return ctx.render(
        "shipments/inbound.html",
        shipments=rows,
        pending=ShipmentStatus.IN_TRANSIT,
        receive_links=True,
    )


def _lots(lines: list[ShippedLine]) -> list[tuple[str, str, int]]:
    """(gtin, lot, units) per lot across the shipment."""
    totals: dict[tuple[str, str], int] = {}
    for line in lines:
        if line.gtin is not None and line.lot_number is not None:
            key = (line.gtin, line.lot_number)
            totals[key] = totals.get(key, 0) + line.units
    return [(g, n, u) for (g, n), u in sorted(totals.items())]


def _not_inbound(ctx: Ctx, missing: NotFound) -> HTMLResponse:
    return ctx.render("error.html", problem=missing, status_code=404)


def _acceptance(ctx: Ctx, conn: ConnDep, shipment_id: int, **values: Any) -> HTMLResponse:
    try:
        state = items.party_shipment(
            ctx.services, member=ctx.signed_in, shipment_id=shipment_id, receiving=True
        )
    except NotFound as missing:
        return _not_inbound(ctx, missing)
    lines = shipment_lines(conn, reader(ctx.services).shipped_items(shipment_id))
    values.setdefault("values", {"temp_min": "", "temp_max": "", "excursion_minutes": "0"})
    loose = _loose_shipped(ctx, conn, shipment_id)
    return ctx.render(
        "shipments/receive.html",
        shipment=state,
        lines=lines,
        lots=_lots(lines),
        loose=loose,
        record_lots=[(g, n) for g, n, _ in _lots(lines)] + [(q.gtin, q.lot) for q in loose],
        sender=organisation_name(conn, state.sender) or state.sender,
        documents=documents_about(ctx, {_subject(shipment_id)}).get(_subject(shipment_id), []),
        **values,
    )


@router.get("/acceptance/{shipment_id}")
def acceptance_record(ctx: Partner, shipment_id: ShipmentId) -> HTMLResponse:
    """The acceptance record (验收记录) of a shipment, for its parties (404 for others)."""
    try:
        view = acceptance.read_acceptance(
            ctx.services, member=ctx.signed_in, shipment_id=shipment_id
        )
    except NotFound as missing:
        return ctx.render("error.html", problem=missing, status_code=404)
    return ctx.render(
        "shipments/acceptance_record.html",
        shipment_id=shipment_id,
        record=view.record,
        body=view.body,
    )


@router.get("/inbound/{shipment_id}")
def acceptance_form(ctx: Partner, conn: ConnDep, shipment_id: ShipmentId) -> HTMLResponse:
    return _acceptance(ctx, conn, shipment_id)


@router.post("/inbound/{shipment_id}")
async def receive(
    request: Request, ctx: Partner, conn: ConnDep, _: Csrf, shipment_id: ShipmentId
) -> Response:
    async with request.form() as form:  # closes the uploaded files afterwards
        typed, files = form_fields(form)
        rejected = {str(v) for v in form.getlist("reject")}
        return await run_in_threadpool(_receive, ctx, conn, shipment_id, typed, rejected, files)


def _receive(
    ctx: Ctx,
    conn: ConnDep,
    shipment_id: int,
    typed: dict[str, str],
    rejected: set[str],
    documents: list[UploadFile],
) -> Response:
    try:
        state = items.party_shipment(
            ctx.services, member=ctx.signed_in, shipment_id=shipment_id, receiving=True
        )
    except NotFound as missing:
        return _not_inbound(ctx, missing)
    shipped = reader(ctx.services).shipped_items(shipment_id)
    lines = shipment_lines(conn, shipped)
    loose = _loose_shipped(ctx, conn, shipment_id)
    try:
        rejected_ids = _in_shipped_order(shipped, rejected)
        rejected_lots = _rejected_lots(loose, typed)
        _check_counts(lines, rejected, typed)
        record = _acceptance_record(ctx, lines, loose, rejected, rejected_lots, typed)
        body = ReceiveIn.model_validate(
            {
                "temp_min": tenths("temp_min", typed.get("temp_min", "")),
                "temp_max": tenths("temp_max", typed.get("temp_max", "")),
                "excursion_seconds": 60
                * whole(
                    "excursion_minutes",
                    typed.get("excursion_minutes", "0") or "0",
                    low=0,
                    high=10**6,
                ),
                "rejected_ids": rejected_ids,
                "rejected_lots": rejected_lots,
                "acceptance": record,
            }
        )
        check_sizes(documents)
        result = items.receive(
            ctx.services, member=ctx.signed_in, shipment_id=shipment_id, order=body
        )
    except FAILURES as exc:
        return _acceptance(ctx, conn, shipment_id, values=typed, rejected=rejected, problem=exc)
    event = next(e for e in result.events if e.name == "ShipmentReceived").args
    summary = [
        ctx._("Shipment %(id)s received: %(accepted)s accepted, %(rejected)s rejected.")
        % {
            "id": shipment_id,
            "accepted": len(event["acceptedIds"]),
            "rejected": len(event["rejectedIds"]),
        }
    ]
    loose_rejected = sum(int(str(q["quantity"])) for q in rejected_lots)
    loose_units = {
        "accepted": ctx.fmt.number(sum(q.quantity for q in loose) - loose_rejected),
        "rejected": ctx.fmt.number(loose_rejected),
    }
    if loose:
        summary.append(
            ctx._("Loose units: %(accepted)s accepted, %(rejected)s rejected.") % loose_units
        )
    if event["quarantined"]:
        summary.append(_quarantine_reason(ctx, held=state.held))
    not_stored = attach_after(
        ctx,
        documents,
        Recorded(summary, result.tx_hash, "/portal/shipments/inbound"),
        subject=_subject(shipment_id),
        kind=INSPECTION_RECORD,
        counterparty=state.sender,
    )
    return not_stored or ctx.render(
        "shipments/received.html",
        shipment_id=shipment_id,
        record_url=f"/portal/shipments/acceptance/{shipment_id}",
        accepted=len(event["acceptedIds"]),
        rejected_count=len(event["rejectedIds"]),
        loose_units=loose_units if loose else None,
        quarantined=bool(event["quarantined"]),
        quarantine_reason=_quarantine_reason(ctx, held=state.held),
        tx_hash=result.tx_hash,
        index_pending=not result.indexed,
    )


@dataclass(frozen=True, slots=True)
class ShippedLot:
    """A loose lot quantity of a shipment, and its field on the acceptance form."""

    lot_key: bytes
    gtin: str
    lot: str
    quantity: int

    @property
    def field(self) -> str:
        return f"reject_lot:{hexs(self.lot_key)}"


def _loose_shipped(ctx: Ctx, conn: ConnDep, shipment_id: int) -> list[ShippedLot]:
    shipped = reader(ctx.services).shipment_lots(shipment_id)
    names = lot_names(conn, (key for key, _, _ in shipped))
    return [
        ShippedLot(key, *names.get(key, ("?", hexs(key)[:10])), quantity)
        for key, _, quantity in shipped
    ]


def _rejected_lots(loose: list[ShippedLot], typed: dict[str, str]) -> list[dict[str, object]]:
    """The rejected part of each shipped lot quantity (0..shipped; blank is 0)."""
    rejected: list[dict[str, object]] = []
    for q in loose:
        count = whole(q.field, typed.get(q.field, "") or "0", low=0, high=q.quantity)
        if count:
            rejected.append({"lot_key": hexs(q.lot_key), "quantity": count})
    return rejected


def _in_shipped_order(shipped: list[bytes], rejected: set[str]) -> list[str]:
    """The rejected ids (0x hex, from the form) in the order they were shipped, as the
    ledger wants them; one that is not in the shipment is a form error."""
    ids = [hexs(key) for key in shipped]
    stray = sorted(rejected - set(ids))
    if stray:
        raise FormError(
            "ItemsRejectedNotInShipment",
            f"{stray[0]} is not part of this shipment",
            {"reject": stray[0]},
        )
    return [i for i in ids if i in rejected]


def _acceptance_record(
    ctx: Ctx,
    lines: list[ShippedLine],
    loose: list[ShippedLot],
    rejected: set[str],
    rejected_lots: list[dict[str, object]],
    typed: dict[str, str],
) -> dict[str, Any]:
    """The acceptance record (验收记录) of the form: one line per lot, serialised or loose,
    with what was received, accepted and rejected and the clerk's conclusion; the inspector
    is the signed-in user. Sealed for the parties by `domain.acceptance`."""
    refused: dict[tuple[str, str], int] = {}
    for line in lines:
        if line.gtin is not None and line.lot_number is not None:
            if hexs(line.item_key) in rejected:
                key = (line.gtin, line.lot_number)
                refused[key] = refused.get(key, 0) + line.units
    loose_refused = {str(q["lot_key"]): int(str(q["quantity"])) for q in rejected_lots}
    entries = [(g, n, u, refused.get((g, n), 0)) for g, n, u in _lots(lines)]
    entries += [(q.gtin, q.lot, q.quantity, loose_refused.get(hexs(q.lot_key), 0)) for q in loose]
    out = []
    for gtin, lot, units, back in entries:
        tag = f"{gtin}:{lot}"
        out.append(
            {
                "gtin": gtin,
                "product": typed.get(f"product:{tag}", "")[:200] or gtin,
                "specification": typed.get(f"spec:{tag}", "")[:200],
                "registration_number": typed.get(f"reg:{tag}", "")[:100],
                "lot": lot[:20],
                "quantity_received": units,
                "quantity_accepted": units - back,
                "quantity_rejected": back,
                "conclusion": "unqualified"
                if typed.get(f"conclusion:{tag}") == "unqualified"
                else "qualified",
            }
        )
    arrival = typed.get("arrival_temp", "").strip()
    return {
        "lines": out,
        "inspector": (ctx.session.username if ctx.session else ctx.signed_in.address)[:100],
        "temperature_on_arrival": tenths("arrival_temp", arrival) if arrival else None,
        "note": typed.get("note", "")[:2000],
    }


def _check_counts(
    lines: list[ShippedLine], rejected: set[str], typed: dict[str, str]
) -> dict[str, int]:
    """Every lot's counted units must equal the units accepted: a shortfall is rejected,
    not silently accepted."""
    expected: dict[str, int] = {}
    for line in lines:
        if line.lot_number is not None and hexs(line.item_key) not in rejected:
            name = f"count:{line.gtin}:{line.lot_number}"
            expected[name] = expected.get(name, 0) + line.units
    counted: dict[str, int] = {}
    for name, units in expected.items():
        counted[name] = whole(name, typed.get(name, ""), low=0, high=10**7)
        if counted[name] != units:
            raise FormError(
                "count_mismatch",
                f"{name}: counted {counted[name]}, accepting {units}",
                {name: f"{counted[name]} ≠ {units}"},
            )
    return counted


def _quarantine_reason(ctx: Ctx, *, held: bool) -> str:
    """Why a receipt's accepted goods landed in quarantine: the receiver's approved files
    (policy Hold) or a cold-chain excursion."""
    if held:
        return ctx._(
            "Supplier or product not yet approved (first-time supplier or product review): "
            "the accepted goods are held in quarantine for QA review."
        )
    return ctx._("Cold-chain excursion: the accepted goods are quarantined.")
