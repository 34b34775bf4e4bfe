"""A member-signed transaction that our node refuses (here: it was sent already) is a
409 problem+json naming the node's reason, not a 500. Runs against our own node, whose
refusals are JSON-RPC errors (eth-tester raises Python exceptions instead)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient
from pydantic import SecretStr
from web3 import HTTPProvider, Web3

from medledger.app import create_app
from medledger.domain.services import Services, load_platform_key
from medledger.domain.settings import ApiSettings
from medledger.indexer.config import Settings as IndexerSettings
from medledger.indexer.db import make_engine
from medledger.indexer.follower import Indexer
from medledger.indexer.source import Web3LogSource
from medledger.node.app import Node
from medledger.node.config import demo_genesis
from medledger.sdk.compiler import load_artifacts
from medledger.sdk.deploy import Deployment
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import Role


def test_a_transaction_the_node_refuses_is_a_409_with_the_nodes_reason(tmp_path: Path) -> None:
    config = replace(demo_genesis(), data_dir=tmp_path / "node", rpc_port=0, block_interval_ms=20)
    node = Node(config)
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
        assert config.demo_admin_key
        regulator, member = Account.create(), Account.create()
        admin = Ledger(w3, deployment, Account.from_key(config.demo_admin_key))
        admin.admit(regulator.address, Role.REGULATOR, "Regulator")
        admin.as_member(regulator).admit(member.address, Role.HOSPITAL, "Hospital")
        deployment.save(tmp_path / "deployment.json")
        db_url = f"sqlite:///{tmp_path / 'medledger.indexer.db'}"
        with Indexer(IndexerSettings(db_url), Web3LogSource.from_url(url), deployment) as indexer:
            indexer.catch_up()  # the API reads member names from the index
        settings = ApiSettings(
            rpc_url=url,
            db_url=db_url,
            data_dir=tmp_path / "api",
            deployment_file=tmp_path / "deployment.json",
            master_key=SecretStr("ab" * 32),
        )
        services = Services(
            settings=settings,
            engine=make_engine(db_url),
            w3=w3,
            deployment=deployment,
            artifacts=load_artifacts(),
            platform_key=load_platform_key(tmp_path / "api" / "platform-ed25519.pem"),
        )
        with TestClient(create_app(services)) as client:
            # The regulator attests a licence: a write that may be repeated, so the API's dry
            # run passes again and the node itself refuses the resent transaction.
            message = client.post("/v1/auth/challenge", json={"address": regulator.address})
            text = message.json()["message"]
            signature = regulator.sign_message(encode_defunct(text=text)).signature.hex()
            token = client.post(
                "/v1/auth/token", json={"message": text, "signature": "0x" + signature}
            )
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            partners = w3.eth.contract(
                address=Web3.to_checksum_address(deployment.partners),
                abi=load_artifacts()["Partners"].abi,
            )
            licence = [member.address, 1, ("licence", 2, 2**40, "", [], "", "")]
            data = partners.encode_abi("attestLicence", licence)
            tx = {"chainId": config.chain_id, "nonce": 1, "to": partners.address, "data": data,
                  "gas": 300_000, "gasPrice": 0, "value": 0}  # fmt: skip
            raw = "0x" + bytes(regulator.sign_transaction(tx).raw_transaction).hex()
            body = {"raw_transaction": raw}
            first = client.post("/v1/partner/transactions", json=body, headers=headers)
            assert first.status_code == 201, first.text
            again = client.post("/v1/partner/transactions", json=body, headers=headers)
        services.engine.dispose()
        assert again.status_code == 409, again.text
        problem = again.json()
        assert problem["code"] == "transaction_refused"
        assert "already known" in problem["detail"]  # the node's own reason
        assert problem["rpc_code"] == -32003
    finally:
        node.stop()
