"""A reorg across quantity movements: the rewind removes the abandoned branch's
`lot_events` and `lot_balances` changes, and the index then equals a clean reindex."""

from __future__ import annotations

from pathlib import Path

from medledger.engines.devchain import DevChain
from medledger.indexer.config import Settings
from medledger.indexer.db import Sql
from medledger.indexer.digest import table_digests
from medledger.indexer.follower import Indexer
from medledger.indexer.queries.lot_quantities import lot_holdings, lot_moves
from medledger.indexer.source import Web3LogSource
from medledger.ops.demo.consortium import Consortium
from tests.contracts.test_lot_quantities import CASE_OF_10, LOT_1, Lots, lots
from tests.indexer.conftest import connect, index_all

__all__ = ["lots"]  # the fixture, imported for pytest


def test_a_reorg_rewinds_quantity_movements_and_balances(
    lots: Lots, consortium: Consortium, chain: DevChain, tmp_path: Path
) -> None:
    m = lots.m
    db_url = f"sqlite:///{tmp_path / 'index.db'}"
    snapshot = chain.tester.take_snapshot()
    fork_point = chain.w3.eth.block_number
    m.destroy_lots([lots.q(lots.key1, 5)])
    m.pack_cases(CASE_OF_10, LOT_1, ["R1", "R2"])
    source = Web3LogSource(chain.w3)
    with Indexer(Settings(db_url, batch_blocks=1), source, consortium.deployment) as indexer:
        indexer.catch_up()
        with connect(db_url) as conn:
            kinds = [x.kind.name for x in lot_moves(Sql(conn), lots.index1)]
            assert kinds == ["COMMISSIONED", "DESTROYED"]

        chain.tester.revert_to_snapshot(snapshot)
        m.quarantine_lots(m.address, [lots.q(lots.key1, 7)])
        chain.tester.mine_blocks(3)
        result = indexer.sync_once()
        assert result is not None and result.rewound_to is not None
        assert result.rewound_to <= fork_point
        indexer.catch_up()

    with connect(db_url) as conn:
        sql = Sql(conn)
        assert [x.kind.name for x in lot_moves(sql, lots.index1)] == [
            "COMMISSIONED",
            "QUARANTINED",
        ]
        (mine,) = lot_holdings(sql, lots.index1)
        assert (mine.active, mine.quarantined, mine.cases) == (993, 7, 0)
        assert (mine.active, mine.quarantined, mine.in_transit) == m.lot_balance(
            lots.index1, m.address
        )
        after = table_digests(conn)
    clean = f"sqlite:///{tmp_path / 'clean.db'}"
    index_all(clean, Web3LogSource(chain.w3), consortium.deployment)
    with connect(clean) as conn:
        assert after == table_digests(conn)
