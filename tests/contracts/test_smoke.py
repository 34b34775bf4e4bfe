from __future__ import annotations

from medledger.ops.demo.consortium import Consortium
from medledger.sdk.model import ItemStatus


def test_a_unit_shipped_and_received_changes_holder(consortium: Consortium) -> None:
    m, d = consortium.manufacturer, consortium.distributor
    ids = m.commission(consortium.lot_key, ["SN1"]).value
    shipment = m.ship(d.address, ids).value
    assert d.item(ids[0]).status is ItemStatus.IN_TRANSIT
    d.receive(shipment, temp_min=50, temp_max=80)
    state = d.item(ids[0])
    assert (state.holder, state.status) == (d.address, ItemStatus.ACTIVE)


def test_each_test_starts_from_the_bootstrap_state(consortium: Consortium) -> None:
    m = consortium.manufacturer
    # The unit commissioned by the previous test is gone: SN1 can be commissioned again.
    ids = m.commission(consortium.lot_key, ["SN1"]).value
    assert m.item(ids[0]).holder == m.address
