"""Indexer fixtures: generated supply chains (eth-tester, anvil, synthetic) and databases
(a SQLite file per test, a throwaway PostgreSQL database per session)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from eth_account import Account
from sqlalchemy import Connection
from web3 import HTTPProvider, Web3

from medledger.engines.devchain import DevChain
from medledger.indexer.config import Settings
from medledger.indexer.db import make_engine
from medledger.indexer.follower import Indexer
from medledger.indexer.source import LogSource
from medledger.ops.bench.supply_chain import (
    ChainRun,
    GeneratorConfig,
    SyntheticChain,
    generate_synthetic,
    run_on_chain,
)
from medledger.sdk.compiler import ContractArtifact
from medledger.sdk.deploy import Deployment

ROOT = Path(__file__).resolve().parents[2]
ANVIL = ROOT / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
# anvil's first default dev key (public, from its well-known test mnemonic).
ANVIL_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class DevRun:
    chain: DevChain
    run: ChainRun


@pytest.fixture(scope="session")
def devchain_run(artifacts: dict[str, ContractArtifact]) -> DevRun:
    """The small generated supply chain, played on an in-process eth-tester chain."""
    chain = DevChain.start(accounts=2)
    run = run_on_chain(chain.w3, chain.accounts[0], GeneratorConfig.small(), artifacts=artifacts)
    return DevRun(chain, run)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class AnvilRun:
    url: str
    w3: Web3
    run: ChainRun
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="session")
def anvil_run(artifacts: dict[str, ContractArtifact]) -> Iterator[AnvilRun]:
    """anvil on a free port, with the small generated supply chain played on it."""
    if not ANVIL.exists():
        pytest.fail(f"anvil not found at {ANVIL}; run npm ci")
    port = _free_port()
    process = subprocess.Popen(
        [str(ANVIL), "--port", str(port), "--silent", "--chain-id", "31337"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    w3 = Web3(HTTPProvider(url))
    deadline = time.monotonic() + 30
    while not w3.is_connected():
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("anvil did not start within 30 s")
        time.sleep(0.1)
    try:
        run = run_on_chain(
            w3, Account.from_key(ANVIL_KEY), GeneratorConfig.small(), artifacts=artifacts
        )
        yield AnvilRun(url, w3, run, process)
    finally:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def synthetic(artifacts: dict[str, ContractArtifact]) -> tuple[SyntheticChain, Deployment]:
    chain, deployment, _plan = generate_synthetic(
        GeneratorConfig.small(units=120, lots=4, seed=7), artifacts=artifacts, logs_per_block=3
    )
    return chain, deployment


@pytest.fixture(scope="session")
def pg_server() -> str | None:
    """The admin URL of the local PostgreSQL server, or None locally when it is down."""
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return PG_ADMIN
    except psycopg.OperationalError:
        if os.environ.get("CI") == "true":
            raise
        return None


@pytest.fixture(scope="session")
def pg_database(pg_server: str | None) -> Iterator[str | None]:
    """A throwaway database name for this session (dropped afterwards)."""
    if pg_server is None:
        yield None
        return
    name = f"medledger_ix_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def reset_pg(name: str) -> str:
    """Empty the session database and return its SQLAlchemy URL."""
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return "postgresql+psycopg://postgres@127.0.0.1:5432/" + name


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_database: str | None) -> str:
    """Each test runs on a fresh SQLite file and on a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.db'}"
    if pg_database is None:
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is not reachable (runs under CI=true)")
    return reset_pg(pg_database)


def index_all(
    db_url: str, source: LogSource, deployment: Deployment, *, batch_blocks: int = 50
) -> int:
    """Index the whole chain into `db_url`; return the item-event rows written."""
    with Indexer(Settings(db_url, batch_blocks=batch_blocks), source, deployment) as indexer:
        return indexer.catch_up()


@contextmanager
def connect(db_url: str) -> Iterator[Connection]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    return env


def medledger_bin() -> str:
    found = shutil.which("medledger", path=str(ROOT / ".venv/bin"))
    assert found is not None
    return found
