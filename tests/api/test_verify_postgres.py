"""The verification route over PostgreSQL gives the same verdicts as over SQLite: the same
chain is indexed into both, and the same scans are sent to an app on each."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient

from api.main import create_app
from indexer.config import Settings as IndexerSettings
from indexer.db import make_engine
from indexer.follower import Indexer
from indexer.source import Web3LogSource
from sdk.gs1 import Udi
from tests.api.conftest import ApiEnv

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def pg_url() -> Iterator[str]:
    name = f"medledger_verify_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is not reachable (runs under CI=true)")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _strip(body: dict[str, Any]) -> dict[str, Any]:
    body.pop("checked_at")
    body.pop("checked_at_iso")
    return body


def test_verdicts_on_postgresql_match_sqlite(api: ApiEnv, pg_url: str) -> None:
    c = api.consortium
    ids = c.manufacturer.commission(c.lot_key, ["PG1", "PG2", "PG3"]).value
    sent = c.manufacturer.ship(c.hospital.address, ids[:2]).value
    c.hospital.receive(sent, temp_min=40, temp_max=80)
    c.hospital.dispense([ids[0]])
    c.manufacturer.destroy([ids[2]])
    api.sync()
    with Indexer(
        IndexerSettings(pg_url, batch_blocks=500), Web3LogSource(api.chain.w3), c.deployment
    ) as indexer:
        indexer.catch_up()
    engine = make_engine(pg_url)
    try:
        pg = TestClient(create_app(dataclasses.replace(api.services, engine=engine, extras={})))
        scans: list[dict[str, Any]] = [
            {"code": Udi(gtin=c.gtin, serial="PG1").element_string()},
            {"code": Udi(gtin=c.gtin, serial="PG2", lot=c.lot).digital_link_uri()},
            {"code": Udi(gtin=c.gtin, serial="PG2").gs1_payload(), "location": {"country": "CN"}},
            {"code": Udi(gtin=c.gtin, serial="PG2").gs1_payload(), "location": {"country": "JP"}},
            {"code": Udi(gtin=c.gtin, serial="PG3", lot="OTHER").element_string()},
            {"code": Udi(gtin=c.gtin, serial="NOPE").element_string()},
        ]
        verdicts = []
        for scan in scans:
            on_pg = pg.post("/v1/verify", json=scan)
            on_sqlite = api.client.post("/v1/verify", json=scan)
            assert on_pg.status_code == on_sqlite.status_code == 200
            assert _strip(on_pg.json()) == _strip(on_sqlite.json())
            verdicts.append(on_pg.json()["verdict"])
        assert verdicts == ["dispensed", "genuine", "genuine", "suspect", "suspect", "unknown"]
        c.manufacturer.recall_lot(c.lot_key, level=1, reason_hash=keccak(text="pg"))
        with Indexer(
            IndexerSettings(pg_url, batch_blocks=500), Web3LogSource(api.chain.w3), c.deployment
        ) as indexer:
            indexer.catch_up()
        recalled = pg.get("/v1/verify", params={"code": scans[1]["code"]}).json()
        assert recalled["verdict"] == "recalled"
        (ref,) = [r for r in recalled["chain"] if r["event"] == "recall_opened"]
        assert ref["tx_hash"] is not None
    finally:
        engine.dispose()
