"""The partner pages' indexer reads (portal.queries, the stock query) give the same answers
over PostgreSQL as over SQLite: one chain is indexed into both and every read is compared."""

from __future__ import annotations

from indexer.config import Settings as IndexerSettings
from indexer.db import make_engine
from indexer.follower import Indexer
from indexer.queries.stock import inventory
from indexer.source import Web3LogSource
from portal import queries
from sdk import gs1
from tests.api import test_verify_postgres
from tests.api.conftest import ApiEnv

pg_url = test_verify_postgres.pg_url


def test_partner_reads_match_on_postgresql(api: ApiEnv, pg_url: str) -> None:
    c = api.consortium
    units = c.manufacturer.commission(c.lot_key, ["PQ1", "PQ2", "PQ3"]).value
    sscc = gs1.make_sscc(extension=0, company_prefix=c.prefix, serial_reference=77)
    case = c.manufacturer.create_container(sscc, company_prefix=c.prefix).value
    c.manufacturer.pack(case, units[:2])
    shipment = c.manufacturer.ship(c.distributor.address, [case, units[2]]).value
    api.sync()
    with Indexer(IndexerSettings(pg_url), Web3LogSource(api.chain.w3), c.deployment) as indexer:
        indexer.catch_up()

    maker, distributor = c.manufacturer.address, c.distributor.address
    shipped = c.manufacturer.shipped_items(shipment)
    answers = []
    for engine in (api.services.engine, make_engine(pg_url)):
        with engine.connect() as conn:
            answers.append(
                (
                    queries.products_of(conn, maker),
                    queries.lots_of(conn, maker),
                    queries.company_prefixes(conn, maker),
                    queries.partners(conn, excluding=maker),
                    queries.shipments_of(conn, distributor, inbound=True),
                    queries.shipments_of(conn, maker, inbound=False),
                    sorted(queries.shipment_lines(conn, shipped), key=lambda line: line.code),
                    queries.organisation_name(conn, maker),
                    inventory(conn, maker),
                )
            )
        engine.dispose()
    sqlite, postgres = answers
    assert sqlite == postgres
    lines = postgres[6]
    assert [(line.code, line.is_container, line.units) for line in lines] == [
        (sscc, True, 2),
        ("PQ3", False, 1),
    ]
    assert postgres[4][0].shipment_id == shipment and postgres[4][0].sender.startswith("Shanghai")
