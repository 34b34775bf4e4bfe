"""API fixtures: the real app over the demo consortium on eth-tester, with a real indexer
writing a real SQLite database that the API reads. `api.sync()` indexes new blocks."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from medledger.app import create_app
from medledger.domain.services import Services, load_platform_key
from medledger.domain.settings import ApiSettings
from medledger.engines.devchain import DevChain
from medledger.indexer.config import Settings as IndexerSettings
from medledger.indexer.db import make_engine
from medledger.indexer.follower import Indexer
from medledger.indexer.source import Web3LogSource
from medledger.ops.demo.consortium import Consortium
from medledger.sdk.compiler import ContractArtifact
from tests.conftest import _Base


@dataclass
class ApiEnv:
    client: TestClient
    services: Services
    chain: DevChain
    consortium: Consortium
    db_url: str

    def sync(self) -> int:
        """Index every block mined so far; return the item-event rows written."""
        settings = IndexerSettings(self.db_url, batch_blocks=500)
        source = Web3LogSource(self.chain.w3)
        with Indexer(settings, source, self.consortium.deployment) as indexer:
            return indexer.catch_up()


@pytest.fixture
def api(
    tmp_path: Path,
    indexed_base: Path,
    _base: _Base,
    chain: DevChain,
    consortium: Consortium,
    artifacts: dict[str, ContractArtifact],
) -> Iterator[ApiEnv]:
    if chain is _base.chain:  # (a module with a chain of its own indexes it from block 0)
        # A copy of the session's read model: `env.sync()` below indexes only what is new.
        shutil.copyfile(indexed_base, tmp_path / "medledger.indexer.db")
    db_url = f"sqlite:///{tmp_path / 'medledger.indexer.db'}"
    settings = ApiSettings(
        db_url=db_url,
        data_dir=tmp_path / "api",
        deployment_file=tmp_path / "deployment.json",
        # The tests index by hand (`ApiEnv.sync`): a write need not wait for the indexer.
        read_model_wait_seconds=0,
    )
    consortium.deployment.save(settings.deployment_file)
    services = Services(
        settings=settings,
        engine=make_engine(db_url),
        w3=chain.w3,
        deployment=consortium.deployment,
        artifacts=artifacts,
        platform_key=load_platform_key(settings.data_dir / "platform-ed25519.pem"),
    )
    env = ApiEnv(TestClient(create_app(services)), services, chain, consortium, db_url)
    env.sync()
    try:
        yield env
    finally:
        services.engine.dispose()
