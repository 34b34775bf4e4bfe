"""The trace explorer, for every signed-in member: search by any code (a unit in any GS1
form, an SSCC, a GTIN with a lot, or a 0x item id), then see the unit's custody timeline
and the graph of organisations it passed through, each step linked to the chain
transaction behind it (`/portal/chain/tx/{hash}`).

Scope follows the API's object-level rules: the regulator sees everything, a partner
only what it holds or has held (others get the same "not found" as an unknown code).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse

from medledger.domain.errors import NotFound
from medledger.domain.trace import TraceScope, ensure_item_visible
from medledger.indexer.items import EventKind
from medledger.indexer.queries import unit_history
from medledger.indexer.queries.counterparties import names_of
from medledger.portal.context import Ctx, MemberCtx
from medledger.portal.errors import MESSAGES
from medledger.portal.nav import NavItem, _l, register
from medledger.portal.trace_graph import Hop, render_org_graph
from medledger.portal.trace_view import ItemTrace, LotView, chain_tx, explore
from medledger.sdk.model import Role
from medledger.web.deps import ConnDep

__all__ = ["router"]

router = APIRouter(prefix="/portal", include_in_schema=False)

register(
    NavItem(
        "/portal/trace",
        _l("Trace explorer"),
        frozenset(Role) - {Role.NONE},
        60,
    )
)
MESSAGES.update(
    {
        "unknown_item": _l("Nothing was found under that code, or it is not yours to see."),
        "unknown_lot": _l("No such lot, or it never reached your organisation."),
        "unknown_transaction": _l("No such transaction on the chain."),
    }
)
EVENTS = {
    "commissioned": _l("commissioned"),
    "container_created": _l("case or pallet created"),
    "packed": _l("packed"),
    "unpacked": _l("unpacked"),
    "shipped": _l("shipped"),
    "received": _l("received"),
    "rejected": _l("rejected"),
    "cancelled": _l("shipment cancelled"),
    "dispensed": _l("dispensed"),
    "quarantined": _l("quarantined"),
    "released": _l("released from quarantine"),
    "destroyed": _l("destroyed"),
}
# A quantity movement of a lot tracked by quantity, as a sentence (`LotMove`).
MOVES = {
    EventKind.COMMISSIONED: _l("%(holder)s commissioned %(n)s units"),
    EventKind.SHIPPED: _l("%(sender)s shipped %(n)s units to %(receiver)s"),
    EventKind.RECEIVED: _l("%(receiver)s received %(n)s units from %(sender)s"),
    EventKind.REJECTED: _l("%(receiver)s rejected %(n)s units from %(sender)s"),
    EventKind.DISPENSED: _l("%(holder)s dispensed %(n)s units"),
    EventKind.QUARANTINED: _l("%(holder)s quarantined %(n)s units"),
    EventKind.RELEASED: _l("%(holder)s released %(n)s units from quarantine"),
    EventKind.DESTROYED: _l("%(holder)s destroyed %(n)s units"),
}
HOP_OUTCOMES = {
    "received": _l("received"),
    "rejected": _l("rejected"),
    "cancelled": _l("cancelled"),
    "in_transit": _l("in transit"),
}


def _scope(ctx: Ctx) -> TraceScope:
    member = ctx.signed_in
    return TraceScope(None if member.is_regulator else member.address)


def tx_href(tx_hash: bytes, item: bytes | None = None) -> str:
    url = f"/portal/chain/tx/0x{tx_hash.hex()}"
    return url if item is None else f"{url}?item=0x{item.hex()}"


def _graph(ctx: Ctx, found: ItemTrace) -> object:
    def describe(hop: Hop) -> str:
        return ctx._("Shipment %(id)s: %(sender)s → %(receiver)s, %(outcome)s, block %(block)s") % {
            "id": hop.shipment_id,
            "sender": hop.sender.name,
            "receiver": hop.receiver.name,
            "outcome": ctx._(HOP_OUTCOMES[hop.outcome]),
            "block": hop.ship_block,
        }

    return render_org_graph(
        found.graph,
        graph_id="org-graph",
        title=ctx._("Organisations the item passed through"),
        tx_href=lambda tx: tx_href(tx, found.item_key),
        describe_hop=describe,
    )


@router.get("/trace")
def trace(
    ctx: MemberCtx, conn: ConnDep, code: Annotated[str, Query(max_length=512)] = ""
) -> HTMLResponse:
    values = {"code": code}
    if not code.strip():
        return ctx.render("trace/explorer.html", values=values)
    try:
        found = explore(conn, code, _scope(ctx))
    except Exception as exc:  # noqa: BLE001 (ctx.render re-raises what it cannot explain)
        return ctx.render("trace/explorer.html", values=values, problem=exc)
    if isinstance(found, LotView):
        lot = found.trace.seen_by(_scope(ctx).member)  # others' stock is theirs to see
        return ctx.render("trace/explorer.html", values=values, lot=lot, moves=MOVES)
    return ctx.render(
        "trace/explorer.html",
        values=values,
        item=found,
        graph=_graph(ctx, found),
        events=EVENTS,
        tx_href=tx_href,
    )


@router.get("/chain/tx/{tx_hash}")
def transaction(
    ctx: MemberCtx,
    conn: ConnDep,
    tx_hash: Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$")],
    item: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{64}$")] = None,
) -> HTMLResponse:
    """A transaction, its block and its decoded events. A partner names the item it is
    tracing (`?item=`), and sees the transaction only if it is one of that item's steps."""
    wanted = bytes.fromhex(tx_hash[2:])
    scope = _scope(ctx)
    try:
        if not scope.sees_everything:
            key = bytes.fromhex((item or "0x" + "0" * 64)[2:])
            ensure_item_visible(conn, key, scope)
            if all(step.tx_hash != wanted for step in unit_history(conn, key)):
                raise NotFound("unknown_transaction", f"{tx_hash} is not a step of {item}")
        found = chain_tx(ctx.services, wanted)
    except Exception as exc:  # noqa: BLE001
        return ctx.render("trace/tx.html", tx=None, problem=exc, status_code=404)
    senders = names_of(conn, {found.sender})
    return ctx.render(
        "trace/tx.html",
        tx=found,
        sender_name=senders.get(found.sender),
        item=item,
        shown=shown,
    )


def shown(value: object) -> str:
    """An event argument as text: bytes as 0x hex, lists one per line."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return "\n".join(shown(v) for v in value)
    return str(value)
