"""`medledger deploy` on our own node: its bootstrap admin deploys a second suite (free gas,
no funds check), and a key that is no member is refused with the node's reason."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner
from web3 import HTTPProvider, Web3

from medledger.cli import app
from medledger.node.app import Node
from medledger.node.config import DEMO_ADMIN_KEY, demo_genesis
from medledger.sdk.deploy import Deployment
from medledger.sdk.ledger import Ledger


@pytest.fixture
def node_url(tmp_path: Path) -> Iterator[str]:
    node = Node(replace(demo_genesis(), data_dir=tmp_path / "node", rpc_port=0))
    node.start()
    try:
        yield node.url
    finally:
        node.stop()


def test_the_bootstrap_admin_deploys_and_a_stranger_is_refused(
    node_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "deployment.json"
    relayer = Account.create().address
    deployed = CliRunner().invoke(
        app, ["deploy", "--rpc", node_url, "--out", str(out), "--relayer", relayer],
        env={"MEDLEDGER_DEPLOY_KEY": DEMO_ADMIN_KEY},
    )  # fmt: skip
    assert deployed.exit_code == 0, deployed.output
    deployment = Deployment.load(out)
    w3 = Web3(HTTPProvider(node_url))
    assert deployment.chain_id == w3.eth.chain_id
    ledger = Ledger(w3, deployment, Account.from_key(DEMO_ADMIN_KEY))
    assert ledger.admin() == ledger.address
    assert ledger.may_relay(relayer)

    stranger = "0x" + "42" * 32
    refused = CliRunner().invoke(
        app, ["deploy", "--rpc", node_url, "--key", stranger, "--out", str(tmp_path / "x.json")]
    )
    text = " ".join(refused.output.split())
    assert refused.exit_code == 2
    assert "the chain refused a deployment from 0x" in text
    assert "is not an active member of the consortium" in text
