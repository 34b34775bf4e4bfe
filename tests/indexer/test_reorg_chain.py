"""A real reorg on an eth-tester chain: blocks the indexer already wrote are replaced by a
different branch; the index must rewind and then match the contract's view again."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from medledger.engines.devchain import DevChain
from medledger.indexer.config import Settings
from medledger.indexer.digest import table_digests
from medledger.indexer.follower import Indexer
from medledger.indexer.source import Web3LogSource
from medledger.ops.bench.supply_chain import ChainRun, GeneratorConfig, run_on_chain
from medledger.sdk.model import ItemStatus
from tests.indexer.conftest import connect, index_all

TINY = GeneratorConfig.small(
    manufacturers=1, distributors=1, hospitals=1, products=1, lots=1, units=8,
    recall_rate=0.0, reject_rate=0.0, excursion_rate=0.0,
)  # fmt: skip


@dataclass
class Forkable:
    chain: DevChain
    run: ChainRun
    snapshot: int


@pytest.fixture(scope="module")
def forkable(artifacts) -> Forkable:
    chain = DevChain.start(accounts=2)
    run = run_on_chain(chain.w3, chain.accounts[0], TINY, artifacts=artifacts)
    return Forkable(chain, run, chain.tester.take_snapshot())


def _state(run: ChainRun) -> dict[bytes, tuple[str, int, bytes | None]]:
    ledger = run.backend.admin
    keys = [k for ids in run.plan.units.values() for k in ids] + run.plan.containers
    return {k: (s.holder, int(s.status), s.parent_id) for k in keys for s in [ledger.item(k)]}


def _projected(db_url: str) -> dict[bytes, tuple[str, int, bytes | None]]:
    with connect(db_url) as conn:
        rows = conn.exec_driver_sql(
            "SELECT i.item_key, o.address, i.status, p.item_key FROM items i "
            "JOIN organisations o ON o.id = i.holder_id LEFT JOIN items p ON p.id = i.parent_id"
        ).all()
    return {bytes(k): (a, s, None if p is None else bytes(p)) for k, a, s, p in rows}


def test_a_reorg_on_a_real_chain_rewinds_and_reindexes_the_new_branch(forkable, db_url, tmp_path):
    chain, run = forkable.chain, forkable.run
    chain.tester.revert_to_snapshot(forkable.snapshot)
    fork_point = chain.w3.eth.block_number
    hospital = run.backend.ledgers[run.plan.hospitals[0]]
    maker = run.backend.ledgers[run.plan.manufacturers[0]]
    on_shelf = [k for k, (h, s, _) in _state(run).items() if h == hospital.address and s == 1]
    assert len(on_shelf) >= 2
    lot_key = run.plan.lot_keys[0]

    # Branch A: a unit is dispensed and the lot recalled; the indexer writes it all.
    hospital.dispense(on_shelf[:1])
    maker.recall_lot(lot_key, level=1, reason_hash=b"\x01" * 32)
    settings = Settings(db_url, batch_blocks=1)
    with Indexer(settings, Web3LogSource(chain.w3), run.deployment) as indexer:
        indexer.catch_up()
        with connect(db_url) as conn:
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM recalls").scalar() == 1

        # Branch B replaces it from the fork point: another unit is quarantined, longer chain.
        chain.tester.revert_to_snapshot(forkable.snapshot)
        hospital.quarantine(on_shelf[1:2])
        chain.tester.mine_blocks(3)
        assert chain.w3.eth.block_number > fork_point + 2
        result = indexer.sync_once()
        assert result is not None and result.rewound_to is not None
        assert result.rewound_to <= fork_point
        indexer.catch_up()

    assert _projected(db_url) == _state(run)
    assert _state(run)[on_shelf[0]][1] == int(ItemStatus.ACTIVE)  # branch A's dispense is gone
    with connect(db_url) as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM recalls").scalar() == 0
        assert conn.exec_driver_sql("SELECT MAX(active_recall) FROM lots").scalar() == 0
        after = table_digests(conn)
    clean = f"sqlite:///{tmp_path / 'clean.db'}"
    index_all(clean, Web3LogSource(chain.w3), run.deployment)
    with connect(clean) as conn:
        assert after == table_digests(conn)
