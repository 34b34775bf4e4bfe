"""With its ledger node down (killed, restarting), the API answers 503 problem+json with
Retry-After, which clients retry, instead of an opaque 500."""

from __future__ import annotations

from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient
from web3 import HTTPProvider, Web3

from api.main import create_app
from api.services import Services, load_platform_key
from api.settings import ApiSettings
from indexer.db import make_engine
from ops.supervisor import free_port
from sdk.compiler import load_artifacts
from sdk.deploy import Deployment

MEMBER = Account.from_key("0x" + "42" * 32)
ADDRESS = MEMBER.address


def test_a_request_that_needs_the_unreachable_chain_is_a_503_chain_unavailable(tmp_path: Path):
    dead = f"http://127.0.0.1:{free_port()}"
    contract = "0x" + "11" * 20
    deployment = Deployment(1337, contract, contract, contract, contract)
    deployment.save(tmp_path / "deployment.json")
    db_url = f"sqlite:///{tmp_path / 'indexer.db'}"
    settings = ApiSettings(
        rpc_url=dead, db_url=db_url, data_dir=tmp_path, deployment_file=tmp_path / "deployment.json"
    )
    services = Services(
        settings=settings,
        engine=make_engine(db_url),
        w3=Web3(HTTPProvider(dead)),
        deployment=deployment,
        artifacts=load_artifacts(),
        platform_key=load_platform_key(tmp_path / "platform-ed25519.pem"),
    )
    try:
        with TestClient(create_app(services), raise_server_exceptions=False) as client:
            message = client.post("/v1/auth/challenge", json={"address": ADDRESS}).json()
            signature = MEMBER.sign_message(encode_defunct(text=message["message"])).signature
            answer = client.post(  # the member's role is read live from the chain
                "/v1/auth/token",
                json={"message": message["message"], "signature": "0x" + signature.hex()},
            )
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "chain_unavailable"
        assert answer.headers["retry-after"] == "2"
    finally:
        services.engine.dispose()
