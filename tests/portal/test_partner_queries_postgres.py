"""The partner pages' indexer reads (indexer.queries.devices, .shipments and
.counterparties, the stock query) give the same answers over PostgreSQL as over SQLite: one
chain is indexed into both and every read is compared."""

from __future__ import annotations

from medledger.indexer.config import Settings as IndexerSettings
from medledger.indexer.db import make_engine
from medledger.indexer.follower import Indexer
from medledger.indexer.queries import counterparties, devices, shipments
from medledger.indexer.queries.stock import inventory
from medledger.indexer.source import Web3LogSource
from medledger.sdk import gs1
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
                    devices.products_of(conn, maker),
                    devices.lots_of(conn, maker),
                    devices.company_prefixes(conn, maker),
                    counterparties.partners(conn, excluding=maker),
                    shipments.shipments_of(conn, distributor, side="inbound"),
                    shipments.shipments_of(conn, maker, side="outbound"),
                    sorted(shipments.shipment_lines(conn, shipped), key=lambda line: line.code),
                    counterparties.organisation_name(conn, maker),
                    inventory(conn, maker),
                    devices.unit_statuses(conn, c.lot_key, [*units, b"\x00" * 32]),
                )
            )
        engine.dispose()
    sqlite, postgres = answers
    assert sqlite == postgres
    assert set(postgres[9]) == set(units)  # the unknown key is left out
    lines = postgres[6]
    assert [(line.code, line.is_container, line.units) for line in lines] == [
        (sscc, True, 2),
        ("PQ3", False, 1),
    ]
    inbound = postgres[4][0]
    assert inbound.shipment_id == shipment and inbound.sender.name.startswith("Shanghai")
