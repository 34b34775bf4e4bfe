"""Ingest from our own node (medledger node, in process): the projection equals the
contract's view, and eth_getLogs ranges the node refuses are split until it answers."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from medledger.indexer.source import Web3LogSource
from medledger.ops.bench.supply_chain import GeneratorConfig, run_on_chain
from medledger.sdk.deploy import Deployment
from tests.indexer.conftest import connect, index_all

node_app = pytest.importorskip("medledger.node.app")
node_config = pytest.importorskip("medledger.node.config")

TINY = GeneratorConfig.small(
    manufacturers=1, distributors=1, hospitals=1, products=1, lots=1, units=8,
    recall_rate=1.0, reject_rate=0.0, excursion_rate=0.0,
)  # fmt: skip


def test_items_indexed_from_our_node_match_the_contract_view(tmp_path, artifacts):
    config = node_config.demo_genesis()
    node = node_app.Node(
        replace(
            config, data_dir=tmp_path / "node", rpc_port=0, block_interval_ms=20,
            max_log_results=5,
        )
    )  # fmt: skip
    node.start()
    try:
        url = node.url
        w3 = Web3(HTTPProvider(url))
        deployment = Deployment(
            chain_id=config.chain_id,
            partners=config.contract_address("Partners"),
            devices=config.contract_address("Devices"),
            items=config.contract_address("Items"),
            records=config.contract_address("Records"),
        )
        admin = Account.from_key(config.demo_admin_key)
        run = run_on_chain(w3, admin, TINY, artifacts=artifacts, deployment=deployment, fund=False)
        db = f"sqlite:///{tmp_path / 'node-index.db'}"
        # Ranges of 500 blocks return more than the node's 5-log cap: the source splits them.
        assert index_all(db, Web3LogSource.from_url(url), deployment, batch_blocks=500) > 0
        ledger = run.backend.admin
        keys = [k for ids in run.plan.units.values() for k in ids] + run.plan.containers
        expected = {
            k: (s.holder, int(s.status), s.parent_id) for k in keys for s in [ledger.item(k)]
        }
        with connect(db) as conn:
            rows = conn.exec_driver_sql(
                "SELECT i.item_key, o.address, i.status, p.item_key FROM items i "
                "JOIN organisations o ON o.id = i.holder_id "
                "LEFT JOIN items p ON p.id = i.parent_id"
            ).all()
        assert {
            bytes(k): (a, s, None if p is None else bytes(p)) for k, a, s, p in rows
        } == expected
    finally:
        node.stop()
