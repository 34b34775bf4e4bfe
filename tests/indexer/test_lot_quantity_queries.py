"""The typed reads of custody by quantity (`indexer.queries.lot_quantities`) against the
read model indexed from real chain events: per-holder holdings of a lot equal the chain's
balances and live cases, a lot's units in the supply chain equal `Items.lotSupply`, and a
holder's stock lists only its own lots."""

from __future__ import annotations

from medledger.engines.devchain import DevChain
from medledger.indexer.db import Sql
from medledger.indexer.queries.lot_quantities import (
    base_product,
    lot_holdings,
    lot_index_of,
    lot_moves,
    lot_stock,
    lot_tracked,
    units_in_supply_chain,
)
from medledger.indexer.source import Web3LogSource
from medledger.ops.demo.consortium import Consortium
from tests.contracts.test_lot_quantities import CASE_OF_10, GLOVES, LOT_1, Lots, lots, send
from tests.indexer.conftest import connect, index_all

__all__ = ["lots"]  # the fixture, imported for pytest


def test_holdings_supply_and_stock_of_a_lot_tracked_lot(
    lots: Lots, consortium: Consortium, chain: DevChain, db_url: str
) -> None:
    m, d, h = lots.m, consortium.distributor, consortium.hospital
    cases = m.pack_cases(CASE_OF_10, LOT_1, ["K1", "K2", "K3"]).value
    first = send(lots, m, d, lots.q(lots.key1, 300), ids=list(cases[:2]))
    d.receive(first, temp_min=50, temp_max=80, rejected_lots=[lots.q(lots.key1, 20)])
    second = send(lots, d, h, lots.q(lots.key1, 100))
    h.receive(second, temp_min=50, temp_max=80)
    h.dispense_lots([lots.q(lots.key1, 40)], record_hash=bytes(32))
    h.quarantine_lots(h.address, [lots.q(lots.key1, 10)], reason_hash=bytes(32))
    m.destroy_lots([lots.q(lots.key1, 5)], record_hash=bytes(32))
    send(lots, d, h, lots.q(lots.key1, 30))  # still in transit, the distributor's

    index_all(db_url, Web3LogSource(chain.w3), consortium.deployment)

    with connect(db_url) as conn:
        sql = Sql(conn)
        index = lot_index_of(sql, lots.key1)
        assert index == lots.index1
        assert lot_tracked(sql, lots.index1)
        holdings = {x.address: x for x in lot_holdings(sql, lots.index1)}
        for ledger in (m, d, h):
            x = holdings[ledger.address]
            assert (x.active, x.quarantined, x.in_transit) == m.lot_balance(
                lots.index1, ledger.address
            )
        assert (holdings[d.address].cases, holdings[d.address].case_units) == (2, 20)
        assert (holdings[m.address].cases, holdings[m.address].case_units) == (1, 10)
        assert holdings[h.address].quarantined == 10
        assert holdings[h.address].active == 50
        assert holdings[d.address].in_transit == 30
        supply = units_in_supply_chain(sql, lots.index1)
        assert supply == m.lot_supply(lots.index1) == 1000 - 40 - 5
        assert sum(x.total for x in holdings.values()) == supply
        assert base_product(sql, CASE_OF_10) == GLOVES
        assert base_product(sql, GLOVES) is None
        (line,) = lot_stock(sql, h.address)
        assert (line.gtin, line.lot_number, line.active, line.quarantined) == (
            GLOVES,
            LOT_1,
            50,
            10,
        )
        by_lot = {x.lot_number: x for x in lot_stock(sql, d.address)}
        assert (by_lot[LOT_1].cases, by_lot[LOT_1].case_units, by_lot[LOT_1].in_transit) == (
            2,
            20,
            30,
        )
        assert lot_stock(sql, consortium.regulator.address) == []
        moves = [
            (x.kind.name, x.quantity, x.holder, x.sender, x.receiver)
            for x in lot_moves(sql, lots.index1)
        ]
    assert moves == [
        ("COMMISSIONED", 1000, m.address, None, None),
        ("SHIPPED", 300, None, m.address, d.address),
        ("RECEIVED", 280, None, m.address, d.address),
        ("REJECTED", 20, None, m.address, d.address),
        ("SHIPPED", 100, None, d.address, h.address),
        ("RECEIVED", 100, None, d.address, h.address),
        ("DISPENSED", 40, h.address, None, None),
        ("QUARANTINED", 10, h.address, None, None),
        ("DESTROYED", 5, m.address, None, None),
        ("SHIPPED", 30, None, d.address, h.address),
    ]
