"""The custody graph: organisations in the order custody reached them, one arrow per
shipment with its outcome, each linked to the shipping transaction."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from medledger.indexer.items import EventKind
from medledger.indexer.queries import HistoryStep, OrgRef
from medledger.portal.trace_graph import org_graph, render_org_graph
from medledger.sdk.model import ItemStatus

SVG = "{http://www.w3.org/2000/svg}"
MAKER, DIST, HOSP = (
    OrgRef(f"0x{c * 40}", n) for c, n in (("a", "Maker"), ("b", "Dist"), ("c", "Hosp"))
)
NAMES = {o.address: o.name for o in (MAKER, DIST, HOSP)}


def _step(kind: EventKind, block: int, holder: OrgRef, shipment: int | None = None) -> HistoryStep:
    status = ItemStatus.IN_TRANSIT if kind is EventKind.SHIPPED else ItemStatus.ACTIVE
    return HistoryStep(
        kind,
        block,
        1_700_000_000 + block,
        bytes([block]) * 32,
        0,
        holder.address,
        status,
        None,
        None,
        shipment,
    )


STEPS = [
    _step(EventKind.COMMISSIONED, 1, MAKER),
    _step(EventKind.SHIPPED, 2, MAKER, 1),
    _step(EventKind.RECEIVED, 3, DIST, 1),
    _step(EventKind.SHIPPED, 4, DIST, 2),
    _step(EventKind.REJECTED, 5, DIST, 2),
    _step(EventKind.SHIPPED, 6, DIST, 3),
    _step(EventKind.RECEIVED, 7, HOSP, 3),
    _step(EventKind.SHIPPED, 8, HOSP, 4),
]
PARTIES = {1: (MAKER, DIST), 2: (DIST, HOSP), 3: (DIST, HOSP), 4: (HOSP, MAKER)}


def test_nodes_follow_custody_and_each_shipment_is_a_hop_with_its_outcome() -> None:
    graph = org_graph(STEPS, parties=PARTIES, names=NAMES)
    assert [n.name for n in graph.nodes] == ["Maker", "Dist", "Hosp"]
    assert [(h.shipment_id, h.outcome) for h in graph.hops] == [
        (1, "received"),
        (2, "rejected"),
        (3, "received"),
        (4, "in_transit"),
    ]
    assert graph.hops[0].ship_block == 2 and graph.hops[0].settle_block == 3
    assert graph.hops[3].settle_tx is None


def test_every_hop_links_to_its_shipping_transaction() -> None:
    graph = org_graph(STEPS, parties=PARTIES, names=NAMES)
    markup = render_org_graph(
        graph,
        graph_id="g",
        title="Organisations",
        tx_href=lambda tx: f"/portal/chain/tx/0x{tx.hex()}",
        describe_hop=lambda h: f"shipment {h.shipment_id}: {h.outcome}",
    )
    root = ET.fromstring(markup)
    links = root.findall(f"{SVG}a")
    assert [a.get("href") for a in links] == [
        f"/portal/chain/tx/0x{bytes([b]).hex() * 32}" for b in (2, 4, 6, 8)
    ]
    assert links[1].get("aria-label") == "shipment 2: rejected"
    assert "hop-rejected" in (links[1].get("class") or "")
    assert [g.get("data-address") for g in root.findall(f"{SVG}g")] == [
        MAKER.address,
        DIST.address,
        HOSP.address,
    ]


def test_a_never_shipped_unit_is_one_node_and_no_arrows() -> None:
    graph = org_graph(STEPS[:1], parties={}, names=NAMES)
    assert graph.nodes == [MAKER] and graph.hops == []
    markup = render_org_graph(
        graph, graph_id="g", title="t", tx_href=str, describe_hop=lambda h: ""
    )
    assert ET.fromstring(markup).findall(f"{SVG}a") == []
