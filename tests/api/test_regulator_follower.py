"""Regulator mode as deployed: `medledger node` (the sequencer) and the regulator's own
`medledger node --follow` as real processes, the indexer following the follower, and the
app in regulator mode reading through them while its writes go to the sequencer
(`submit_rpc_url`). A recall issued through the API shows up through the follower."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak
from fastapi.testclient import TestClient
from web3 import HTTPProvider, Web3

from medledger.app import create_app
from medledger.domain.services import Services
from medledger.domain.settings import ApiSettings
from medledger.indexer.config import Settings as IndexerSettings
from medledger.indexer.follower import Indexer
from medledger.indexer.source import Web3LogSource
from medledger.node.client import RpcClient
from medledger.node.config import demo_genesis
from medledger.node.errors import READ_ONLY, RpcError
from medledger.ops.bench.chain import Harness
from medledger.sdk.gs1 import Udi
from tests.node.conftest import NodeProcess, spawn_node

TOKEN = "regulator-follower-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PASSWORD = "regulator keystore password"


def _rpc(url: str, method: str, *params: Any) -> Any:
    client = RpcClient(url)
    try:
        return client.call(method, *params)
    finally:
        client.close()


@dataclass
class Deployed:
    sequencer: NodeProcess
    follower: NodeProcess
    harness: Harness
    client: TestClient
    services: Services
    commission_tx: str

    def sync(self, tx_hash: str) -> None:
        """Wait until the follower holds `tx_hash`'s block, then index the follower."""
        deadline = time.monotonic() + 60
        while _rpc(self.follower.url, "eth_getTransactionReceipt", tx_hash) is None:
            assert time.monotonic() < deadline, "the follower did not catch up"
            time.sleep(0.05)
        settings = IndexerSettings(self.services.settings.db_url, batch_blocks=500)
        source = Web3LogSource(Web3(HTTPProvider(self.follower.url)))
        with Indexer(settings, source, self.services.deployment) as indexer:
            indexer.catch_up()


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[Deployed]:
    admin = Account.from_key(keccak(text="medledger regulator follower test admin"))
    config = replace(demo_genesis(bootstrap_admin=admin.address), block_interval_ms=50)
    genesis = tmp_path / "genesis.json"
    config.save(genesis)
    sequencer = spawn_node(tmp_path / "sequencer", genesis)
    nodes = [sequencer]
    try:
        harness = Harness(sequencer.url, admin, fund=False)
        harness.admit_on_genesis_suite(config)
        harness.bootstrap()
        c = harness.consortium
        commissioned = c.manufacturer.commission(c.lot_key, ["RF1", "RF2"]).receipt
        nodes.append(spawn_node(tmp_path / "follower", genesis, follow=sequencer.url))
        data_dir = tmp_path / "api"
        data_dir.mkdir()
        # as `medledger up` writes it (ops.secrets): recall notices are sealed with it
        (data_dir / "master-key.hex").write_text(secrets.token_hex(32))
        regulator_key = c.regulator.account.key
        (data_dir / "regulator-keystore.json").write_text(
            json.dumps(Account.encrypt(regulator_key, PASSWORD))
        )
        settings = ApiSettings(
            rpc_url=nodes[1].url,
            submit_rpc_url=sequencer.url,
            db_url=f"sqlite:///{tmp_path / 'regulator-indexer.db'}",
            deployment_file=tmp_path / "deployment.json",
            data_dir=data_dir,
            regulator=True,
            regulator_api_token=TOKEN,
            regulator_key_password=PASSWORD,
        )
        c.deployment.save(settings.deployment_file)
        services = Services.from_settings(settings)
        commission_tx = "0x" + bytes(commissioned["transactionHash"]).hex()
        client = TestClient(create_app(services))
        env = Deployed(sequencer, nodes[1], harness, client, services, commission_tx)
        yield env
        services.engine.dispose()
        harness.client.close()
    finally:
        for node in reversed(nodes):
            node.stop()


def _verify(env: Deployed, serial: str) -> dict[str, Any]:
    c = env.harness.consortium
    code = Udi(gtin=c.gtin, serial=serial, lot=c.lot).element_string()
    response = env.client.get("/v1/verify", params={"code": code})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_a_recall_written_via_the_sequencer_shows_up_through_the_follower(
    deployed: Deployed,
) -> None:
    env, c = deployed, deployed.harness.consortium
    env.sync(env.commission_tx)
    assert _verify(env, "RF1")["verdict"] == "genuine"
    members = env.client.get("/v1/regulator/members", headers=AUTH).json()["members"]
    assert c.manufacturer.address in {m["address"] for m in members}
    with pytest.raises(RpcError) as refused:  # the follower takes no writes itself
        _rpc(env.follower.url, "eth_sendRawTransaction", "0x00")
    assert refused.value.code == READ_ONLY

    answer = env.client.post(
        "/v1/regulator/recalls",
        json={"gtin": c.gtin, "lot": c.lot, "level": 1, "reason": "sterile seal defect"},
        headers=AUTH,
    )
    assert answer.status_code == 201, answer.text
    recall = answer.json()
    on_sequencer = _rpc(env.sequencer.url, "eth_getTransactionReceipt", recall["tx_hash"])
    assert int(on_sequencer["blockNumber"], 16) == recall["block_number"]
    env.sync(recall["tx_hash"])
    status = _rpc(env.follower.url, "medledger_status")
    assert status["role"] == "follower" and status["divergence"] is None

    result = _verify(env, "RF2")
    assert result["verdict"] == "recalled"
    assert result["lot"]["recall_level"] == 1
    (ref,) = [r for r in result["chain"] if r["event"] == "recall_opened"]
    assert (ref["tx_hash"], ref["block"]) == (recall["tx_hash"], recall["block_number"])
    scope = env.client.get(f"/v1/trace/recalls/{recall['recall_id']}", headers=AUTH)
    assert scope.status_code == 200, scope.text
