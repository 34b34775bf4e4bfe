"""The organisations a unit passed through, as a graph: one node per organisation in the
order custody first reached it, one arrow per shipment (sender to receiver), drawn as
server-rendered SVG where every arrow links to the shipment's transaction.

`org_graph` builds the graph from a unit's history (`indexer.queries.unit_history`) and
the parties of its shipments; `render_org_graph` lays it out on one row: an arrow to the
next organisation is straight, any other arrow (a return, a skip) is an arc, above the
row going forward and below going back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from medledger.indexer.items import EventKind
from medledger.indexer.queries import HistoryStep, OrgRef

__all__ = ["Hop", "OrgGraph", "org_graph", "render_org_graph"]

_SETTLING = {
    EventKind.RECEIVED: "received",
    EventKind.REJECTED: "rejected",
    EventKind.CANCELLED: "cancelled",
}
_STROKE = {
    "received": "#1f6feb",
    "in_transit": "#bf8700",
    "rejected": "#cf222e",
    "cancelled": "#888888",
}


@dataclass(frozen=True, slots=True)
class Hop:
    """One shipment of the unit (alone or inside a container)."""

    shipment_id: int
    sender: OrgRef
    receiver: OrgRef
    outcome: str  # received, rejected, cancelled or in_transit
    ship_block: int
    ship_tx: bytes
    settle_block: int | None
    settle_tx: bytes | None


@dataclass(frozen=True, slots=True)
class OrgGraph:
    nodes: list[OrgRef]  # in the order custody first reached them
    hops: list[Hop]  # in shipping order


def org_graph(
    steps: Sequence[HistoryStep],
    *,
    parties: Mapping[int, tuple[OrgRef, OrgRef]],
    names: Mapping[str, str],
) -> OrgGraph:
    """The graph of a unit's custody. `parties` maps each shipment id of `steps` to its
    (sender, receiver); `names` maps holder addresses to organisation names."""
    nodes: dict[str, OrgRef] = {}
    shipped: dict[int, HistoryStep] = {}
    settled: dict[int, HistoryStep] = {}
    for step in steps:
        if not nodes:
            nodes[step.holder] = OrgRef(step.holder, names.get(step.holder, step.holder))
        if step.shipment_id is None:
            continue
        if step.kind is EventKind.SHIPPED:
            shipped.setdefault(step.shipment_id, step)
        elif step.kind in _SETTLING:
            settled[step.shipment_id] = step
    hops: list[Hop] = []
    for shipment_id, ship in shipped.items():
        sender, receiver = parties[shipment_id]
        for org in (sender, receiver):
            nodes.setdefault(org.address, org)
        end = settled.get(shipment_id)
        hops.append(
            Hop(
                shipment_id,
                sender,
                receiver,
                "in_transit" if end is None else _SETTLING[end.kind],
                ship.block_number,
                ship.tx_hash,
                None if end is None else end.block_number,
                None if end is None else end.tx_hash,
            )
        )
    return OrgGraph(list(nodes.values()), hops)


_NODE_W, _NODE_H, _GAP, _PAD = 180, 46, 60, 16
_ARC = 34  # height of an arc per column it spans


def _centre(column: int) -> float:
    return _PAD + column * (_NODE_W + _GAP) + _NODE_W / 2


def _short(name: str, limit: int = 24) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _edge_path(a: int, b: int, lane: int, row_y: float) -> tuple[str, float, float]:
    """SVG path of an arrow from column a to column b, and where its label sits."""
    x1, x2 = _centre(a), _centre(b)
    if b == a + 1 and lane == 0:
        y = row_y + _NODE_H / 2
        start, end = x1 + _NODE_W / 2, x2 - _NODE_W / 2
        return f"M{start:.1f},{y:.1f} L{end - 4:.1f},{y:.1f}", (start + end) / 2, y - 6
    forward = b > a
    edge_y = row_y if forward else row_y + _NODE_H
    lift = (_ARC * abs(b - a) + 14 * lane) * (-1 if forward else 1)
    mid_x = (x1 + x2) / 2
    path = f"M{x1:.1f},{edge_y:.1f} Q{mid_x:.1f},{edge_y + 2 * lift:.1f} {x2:.1f},{edge_y:.1f}"
    return path, mid_x, edge_y + lift + (-4 if forward else 12)


def render_org_graph(
    graph: OrgGraph,
    *,
    graph_id: str,
    title: str,
    tx_href: Callable[[bytes], str],
    describe_hop: Callable[[Hop], str],
) -> Markup:
    """The graph as an accessible SVG: each arrow is a link (`tx_href` of the shipping
    transaction) whose title is `describe_hop` of it (translated by the caller)."""
    columns = {org.address: i for i, org in enumerate(graph.nodes)}
    arcs = [
        abs(b - a)
        for a, b in ((columns[h.sender.address], columns[h.receiver.address]) for h in graph.hops)
        if b != a + 1
    ]
    # Room for the tallest arc (straight arrows need none), plus a lane per parallel hop.
    headroom = _ARC * max(arcs, default=0) + 14 * len(graph.hops) + 8
    row_y = _PAD + headroom
    width = int(_PAD * 2 + max(1, len(graph.nodes)) * (_NODE_W + _GAP) - _GAP)
    height = int(row_y + _NODE_H + headroom + _PAD)
    gid = escape(graph_id)
    parts = [
        f'<svg class="org-graph" id="{gid}" role="group" aria-labelledby="{gid}-t" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="12">'
        f'<title id="{gid}-t">{escape(title)}</title>'
        f'<defs><marker id="{gid}-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>'
    ]
    for i, org in enumerate(graph.nodes):
        x = _PAD + i * (_NODE_W + _GAP)
        parts.append(
            f'<g class="org" data-address="{escape(org.address)}">'
            f"<title>{escape(org.name)} ({escape(org.address)})</title>"
            f'<rect x="{x}" y="{row_y:.1f}" width="{_NODE_W}" height="{_NODE_H}" rx="8" '
            f'fill="#f6f8fa" stroke="#57606a"/>'
            f'<text x="{x + _NODE_W / 2:.1f}" y="{row_y + 20:.1f}" text-anchor="middle" '
            f'font-weight="bold">{escape(_short(org.name))}</text>'
            f'<text x="{x + _NODE_W / 2:.1f}" y="{row_y + 36:.1f}" text-anchor="middle" '
            f'fill="#57606a">{escape(org.address[:8])}…{escape(org.address[-4:])}</text></g>'
        )
    lanes: dict[tuple[int, int], int] = {}
    for n, hop in enumerate(graph.hops, start=1):
        a, b = columns[hop.sender.address], columns[hop.receiver.address]
        lane = lanes.get((a, b), 0)
        lanes[(a, b)] = lane + 1
        path, lx, ly = _edge_path(a, b, lane, row_y)
        colour = _STROKE[hop.outcome]
        dash = ' stroke-dasharray="6 4"' if hop.outcome != "received" else ""
        parts.append(
            f'<a class="hop hop-{hop.outcome}" href="{escape(tx_href(hop.ship_tx))}" '
            f'aria-label="{escape(describe_hop(hop))}">'
            f"<title>{escape(describe_hop(hop))}</title>"
            f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2.5"{dash} '
            f'marker-end="url(#{gid}-arrow)"/>'
            f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="middle" fill="{colour}">{n}</text></a>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
