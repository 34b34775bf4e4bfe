"""The read model of custody by quantity: `lot_balances` equals `Items.lotBalance` for
every holder, cases are items with their contents, and a shipment of quantities only is
received (not rejected) when some of it is accepted."""

from __future__ import annotations

from sqlalchemy import text

from medledger.engines.devchain import DevChain
from medledger.indexer.source import Web3LogSource
from medledger.ops.demo.consortium import DEMO_PREFIX, Consortium
from medledger.sdk.gs1 import make_sscc
from medledger.sdk.model import ItemStatus, ShipmentStatus
from tests.contracts.test_lot_quantities import CASE_OF_10, LOT_1, MEMBERS, Lots, lots, send
from tests.indexer.conftest import connect, index_all

__all__ = ["lots"]  # the fixture, imported for pytest


def test_lot_balances_cases_and_quantity_shipments_are_projected(
    lots: Lots, consortium: Consortium, chain: DevChain, db_url: str
) -> None:
    m, d, h = lots.m, consortium.distributor, consortium.hospital
    cases = m.pack_cases(CASE_OF_10, LOT_1, ["K1", "K2", "K3"]).value
    sscc = make_sscc(extension=1, company_prefix=DEMO_PREFIX, serial_reference=77)
    pallet = m.create_container(sscc, company_prefix=DEMO_PREFIX).value
    m.pack(pallet, cases[:2])
    mixed = send(lots, m, d, lots.q(lots.key1, 100), lots.q(lots.key2, 10), ids=[pallet])
    d.receive(mixed, temp_min=50, temp_max=80, rejected_lots=[lots.q(lots.key1, 30)])
    d.unpack(pallet)
    d.unpack_cases([cases[0]])
    only_lots = send(lots, d, h, lots.q(lots.key1, 50))
    h.receive(only_lots, temp_min=50, temp_max=95)  # an excursion: quarantined
    rejected = send(lots, m, h, lots.q(lots.key2, 5))
    h.receive(rejected, temp_min=50, temp_max=80, rejected_lots=[lots.q(lots.key2, 5)])
    pending = send(lots, m, d, lots.q(lots.key1, 7))

    index_all(db_url, Web3LogSource(chain.w3), consortium.deployment, batch_blocks=3)

    with connect(db_url) as conn:
        rows = conn.execute(
            text(
                "SELECT b.lot_index, o.address, b.active, b.quarantined, b.in_transit "
                "FROM lot_balances b JOIN organisations o ON o.id = b.organisation_id"
            )
        ).all()
        projected = {(int(i), str(a)): (int(x), int(q), int(t)) for i, a, x, q, t in rows}
        for index in (lots.index1, lots.index2):
            for name in MEMBERS:
                address = consortium.by_name(name).address
                on_chain = m.lot_balance(index, address)
                assert projected.get((index, address), (0, 0, 0)) == on_chain, (index, name)
        assert projected[(lots.index1, h.address)] == (0, 50, 0)
        assert projected[(lots.index1, m.address)][2] == 7
        statuses = dict(conn.execute(text("SELECT id, status FROM shipments")).all())
        assert statuses[only_lots] == ShipmentStatus.RECEIVED
        assert statuses[rejected] == ShipmentStatus.REJECTED
        assert statuses[mixed] == ShipmentStatus.RECEIVED
        assert statuses[pending] == ShipmentStatus.IN_TRANSIT
        items = conn.execute(
            text(
                "SELECT i.item_key, i.status, i.code, c.package_gtin, c.quantity FROM items i "
                "JOIN case_contents c ON c.item_id = i.id"
            )
        ).all()
    by_key = {bytes(k): (int(s), code, gtin, int(q)) for k, s, code, gtin, q in items}
    assert by_key == {
        case: (int(m.item(case).status), serial, CASE_OF_10, 10)
        for case, serial in zip(cases, ("K1", "K2", "K3"), strict=True)
    }
    assert by_key[cases[0]][0] == ItemStatus.UNPACKED
