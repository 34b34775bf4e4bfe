"""An API app whose chain is unreachable (a free port nobody listens on), for the ops
behaviour that needs no ledger: metrics, and answers while the node is down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from web3 import HTTPProvider, Web3

from medledger.app import create_app
from medledger.domain.services import Services, load_platform_key
from medledger.domain.settings import ApiSettings
from medledger.indexer.db import make_engine
from medledger.runtime.supervisor import free_port
from medledger.sdk.compiler import load_artifacts
from medledger.sdk.deploy import Deployment


@pytest.fixture
def offline_api(tmp_path: Path) -> Iterator[TestClient]:
    dead = f"http://127.0.0.1:{free_port()}"
    contract = "0x" + "11" * 20
    deployment = Deployment(1337, contract, contract, contract, contract)
    deployment.save(tmp_path / "deployment.json")
    db_url = f"sqlite:///{tmp_path / 'medledger.indexer.db'}"
    settings = ApiSettings(
        rpc_url=dead,
        db_url=db_url,
        data_dir=tmp_path,
        deployment_file=tmp_path / "deployment.json",
        master_key=SecretStr("ab" * 32),  # sign-in challenges carry an HMAC under it
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
            yield client
    finally:
        services.engine.dispose()
