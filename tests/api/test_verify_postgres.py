"""The verification route over PostgreSQL gives the same verdicts as over SQLite: the same
chain is indexed into both, and the same scans are sent to an app on each. Every statement
a verification sends runs on an index on both databases (EXPLAIN)."""

from __future__ import annotations

import dataclasses
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from medledger.app import create_app
from medledger.domain.auth import create_api_key
from medledger.domain.services import Components, Services
from medledger.domain.verifier import VERIFIER, verifier
from medledger.indexer.config import Settings as IndexerSettings
from medledger.indexer.db import make_engine
from medledger.indexer.follower import Indexer
from medledger.indexer.queries.verification import DirectSql
from medledger.indexer.source import Web3LogSource
from medledger.sdk.gs1 import Udi
from tests.api.conftest import ApiEnv

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
HOT_TABLES = ("items", "item_events", "processed_logs", "verification_scans", "blocks", "lots")


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
    key = create_api_key(api.services, c.hospital.address, label="ward scanner")[1]
    hospital = {"X-API-Key": key}
    app = create_app(dataclasses.replace(api.services, engine=engine, components=Components()))
    try:
        with TestClient(app) as pg:  # its shutdown writes the queued scans
            scans: list[dict[str, Any]] = [
                {"code": Udi(gtin=c.gtin, serial="PG1").element_string()},
                {"code": Udi(gtin=c.gtin, serial="PG2", lot=c.lot).digital_link_uri()},
                {  # a member's scan: evidence of where the unit was (issue 13)
                    "code": Udi(gtin=c.gtin, serial="PG2").gs1_payload(),
                    "location": {"country": "CN"},
                    "headers": hospital,
                },
                {
                    "code": Udi(gtin=c.gtin, serial="PG2").gs1_payload(),
                    "location": {"country": "JP"},
                },
                {"code": Udi(gtin=c.gtin, serial="PG3", lot="OTHER").element_string()},
                {"code": Udi(gtin=c.gtin, serial="NOPE").element_string()},
            ]
            verdicts = []
            for scan in scans:
                headers = scan.pop("headers", {})
                on_pg = pg.post("/v1/verify", json=scan, headers=headers)
                on_sqlite = api.client.post("/v1/verify", json=scan, headers=headers)
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


def _index(api: ApiEnv, url: str) -> None:
    source = Web3LogSource(api.chain.w3)
    with Indexer(IndexerSettings(url, batch_blocks=500), source, api.consortium.deployment) as ix:
        ix.catch_up()


class _RecordingSql(DirectSql):
    def __init__(self, engine: Engine, seen: list[tuple[str, Any]]) -> None:
        super().__init__(engine)
        self.seen = seen

    def execute(self, sql: str, params: Sequence[Any]) -> Any:
        if sql.lstrip().upper().startswith("SELECT"):
            self.seen.append((sql, tuple(params)))
        return super().execute(sql, params)


def _assert_indexed_plans(
    client: TestClient, services: Services, scans: list[dict[str, Any]]
) -> None:
    captured: list[tuple[str, Any]] = []
    engine = services.engine
    found = verifier(services)
    services.components.put(
        VERIFIER, dataclasses.replace(found, sql=_RecordingSql(engine, captured))
    )
    for scan in scans:
        assert client.post("/v1/verify", json=scan).status_code == 200
    assert len(captured) >= 8
    with engine.connect() as conn:
        pg = conn.dialect.name == "postgresql"
        if pg:  # tiny tables make any plan cheap; forbid seq scans so a missing index shows
            conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, params in captured:
            prefix = "EXPLAIN " if pg else "EXPLAIN QUERY PLAN "
            text = prefix + (statement.replace("?", "%s") if pg else statement)
            plan = "\n".join(str(r[-1]) for r in conn.exec_driver_sql(text, params))
            for table in HOT_TABLES:
                if pg:
                    assert not re.search(rf"Seq Scan on {table}\b", plan), f"{statement}\n{plan}"
                else:
                    aliases = {table} | set(re.findall(rf"\b{table} (\w+)", statement))
                    scanned = set(re.findall(r"^SCAN (\w+)", plan, re.M))
                    assert not scanned & aliases, f"{statement}\n{plan}"


def test_every_verification_statement_runs_on_an_index(api: ApiEnv, pg_url: str) -> None:
    c = api.consortium
    (unit,) = c.manufacturer.commission(c.lot_key, ["IX1"]).value
    c.manufacturer.recall_lot(c.lot_key, level=1, reason_hash=keccak(text="ix"))
    c.manufacturer.destroy([unit])
    api.sync()
    _index(api, pg_url)
    scans: list[dict[str, Any]] = [
        {"code": Udi(gtin=c.gtin, serial="IX1", lot="OTHER").element_string()},
        {"code": Udi(gtin=c.gtin, serial="IX1").element_string(), "location": {"country": "CN"}},
        {"code": Udi(gtin=c.gtin, serial="NOPE").element_string()},
        {"code": "(01)09506000134376(21)X"},
    ]
    _assert_indexed_plans(api.client, api.services, scans)
    engine = make_engine(pg_url)
    services = dataclasses.replace(api.services, engine=engine, components=Components())
    try:
        with TestClient(create_app(services)) as pg:  # its shutdown writes the queued scans
            _assert_indexed_plans(pg, services, scans)
    finally:
        engine.dispose()
