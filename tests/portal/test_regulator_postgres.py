"""The regulator's views and the trace explorer give the same answers over PostgreSQL as
over SQLite: one chain is indexed into both and every view is compared."""

from __future__ import annotations

import time

from eth_utils import keccak

from medledger.domain.network import network_overview
from medledger.domain.trace import TraceScope
from medledger.indexer.config import Settings as IndexerSettings
from medledger.indexer.db import make_engine
from medledger.indexer.follower import Indexer
from medledger.indexer.queries.network import members_with_licences
from medledger.indexer.queries.recalls import recall_rows
from medledger.indexer.source import Web3LogSource
from medledger.portal.trace_view import explore
from medledger.sdk.gs1 import Udi
from tests.api import test_verify_postgres
from tests.api.conftest import ApiEnv

pg_url = test_verify_postgres.pg_url


def test_regulator_views_match_on_postgresql(api: ApiEnv, pg_url: str) -> None:
    c = api.consortium
    units = c.manufacturer.commission(c.lot_key, ["PGR1", "PGR2"]).value
    c.distributor.receive(
        c.manufacturer.ship(c.distributor.address, units).value,
        temp_min=20,
        temp_max=310,
        excursion_seconds=600,
    )
    c.regulator.recall_lot(c.lot_key, level=2, reason_hash=keccak(text="pg"))
    api.sync()
    with Indexer(IndexerSettings(pg_url), Web3LogSource(api.chain.w3), c.deployment) as indexer:
        indexer.catch_up()

    code = Udi(gtin=c.gtin, serial="PGR1").element_string()
    now = int(time.time())
    settings = api.services.settings
    answers = []
    for engine in (api.services.engine, make_engine(pg_url)):
        with engine.connect() as conn:
            answers.append(
                (
                    network_overview(conn, settings, now=now),
                    members_with_licences(conn),
                    recall_rows(conn),
                    explore(conn, code, TraceScope(None)),
                )
            )
        engine.dispose()
    sqlite, postgres = answers
    assert sqlite == postgres
    figures = postgres[0]
    assert sum(n for _, n in figures.shipments_per_day) == 1
    assert figures.recalls_by_level == {2: (1, 0)}
    assert figures.alerts_by_kind == {"cold_chain_excursion": 1}
