"""The inspection exports' reads (indexer.queries.inspection) on a real chain: per shipment
and lot the units shipped, received and rejected (serialised units, units in cases and
loose quantities alike), shipments by side and period, adverse events and recalls in a
period; and the same answers over PostgreSQL as over SQLite."""

from __future__ import annotations

from eth_utils import keccak
from sqlalchemy import Connection

from medledger.indexer.config import Settings as IndexerSettings
from medledger.indexer.db import make_engine
from medledger.indexer.follower import Indexer
from medledger.indexer.items import EventKind
from medledger.indexer.queries import inspection
from medledger.indexer.source import Web3LogSource
from medledger.sdk import gs1
from medledger.sdk.messages import LotQuantity
from tests.api import test_verify_postgres
from tests.api.conftest import ApiEnv, api
from tests.lot_products import Gauze, register_gauze

__all__ = ["api"]
pg_url = test_verify_postgres.pg_url


def _gauze(api: ApiEnv) -> tuple[int, Gauze]:
    """A case of 10 gauze and 5 loose to the distributor, which rejects 2 loose."""
    c = api.consortium
    gauze = register_gauze(c, api.chain.now())
    c.manufacturer.commission_lot(gauze.lot_key, 15)
    (case,) = c.manufacturer.pack_cases(gauze.case_gtin, gauze.lot, ["IQC1"]).value
    loose = [LotQuantity(gauze.lot_key, 5)]
    shipment: int = c.manufacturer.ship(c.distributor.address, [case], lots=loose).value
    c.distributor.receive(
        shipment, temp_min=40, temp_max=60, rejected_lots=[LotQuantity(gauze.lot_key, 2)]
    )
    return shipment, gauze


def _story(api: ApiEnv) -> int:
    """Three units (two in a pallet) to the distributor, which rejects one; an adverse
    event and a recall. Returns the shipment id."""
    c = api.consortium
    units = c.manufacturer.commission(c.lot_key, ["IQ1", "IQ2", "IQ3"]).value
    sscc = gs1.make_sscc(extension=0, company_prefix=c.prefix, serial_reference=91)
    pallet = c.manufacturer.create_container(sscc, company_prefix=c.prefix).value
    c.manufacturer.pack(pallet, units[:2])
    shipment: int = c.manufacturer.ship(c.distributor.address, [pallet, units[2]]).value
    c.distributor.receive(shipment, temp_min=30, temp_max=70, rejected_ids=[units[2]])
    c.distributor.report_adverse_event(units[0], severity=1, report_hash=keccak(text="q"))
    c.regulator.recall_lot(c.lot_key, level=3, reason_hash=keccak(text="q"))
    api.sync()
    return shipment


def _answers(conn: Connection, api: ApiEnv, shipment: int) -> tuple[object, ...]:
    c = api.consortium
    span = {"start": 0, "end": 2**40, "limit": 100}
    return (
        inspection.shipments_in(conn, c.distributor.address, side="inbound", **span),
        inspection.shipments_in(conn, c.manufacturer.address, side="outbound", **span),
        inspection.shipments_in(conn, c.manufacturer.address, side="settled", **span),
        inspection.shipments_in(conn, c.hospital.address, side="settled", **span),
        inspection.shipment_lots(conn, [shipment]),
        inspection.adverse_events_in(conn, c.manufacturer.address, **span),
        inspection.adverse_events_in(conn, c.hospital.address, **span),
        inspection.recalls_opened_in(conn, **span),
    )


def test_inspection_reads_count_every_unit_and_agree_on_postgresql(
    api: ApiEnv, pg_url: str
) -> None:
    gauze_shipment, gauze = _gauze(api)
    shipment = _story(api)
    with Indexer(
        IndexerSettings(pg_url), Web3LogSource(api.chain.w3), api.consortium.deployment
    ) as indexer:
        indexer.catch_up()
    with api.services.engine.connect() as conn:
        lite = _answers(conn, api, shipment)
    pg_engine = make_engine(pg_url)
    try:
        with pg_engine.connect() as conn:
            assert _answers(conn, api, shipment) == lite
    finally:
        pg_engine.dispose()
    inbound, outbound, made, none, lines, maker_events, hospital_events, recalls = lite
    both = [gauze_shipment, shipment]
    assert [s.shipment_id for s in inbound] == both == [s.shipment_id for s in outbound]
    assert made == inbound and none == []
    assert inbound[1].temp_min == 30 and inbound[1].settled_at is not None
    moved = {(line.kind, line.quantity, tuple(line.serials)) for line in lines}
    assert moved == {
        (EventKind.SHIPPED, 3, ("IQ1", "IQ2", "IQ3")),
        (EventKind.RECEIVED, 2, ("IQ1", "IQ2")),
        (EventKind.REJECTED, 1, ("IQ3",)),
    }
    assert [e.serial for e in maker_events] == ["IQ1"] and hospital_events == []
    assert [r.level for r in recalls] == [3]
    with api.services.engine.connect() as conn:
        by_lot = inspection.shipment_lots(conn, [gauze_shipment])
    assert {(line.gtin, line.kind, line.quantity) for line in by_lot} == {
        (gauze.gtin, EventKind.SHIPPED, 15),  # the case's 10 and 5 loose
        (gauze.gtin, EventKind.RECEIVED, 13),
        (gauze.gtin, EventKind.REJECTED, 2),
    }
    assert all(line.serials == [] for line in by_lot)  # a case is no serialised unit
    with api.services.engine.connect() as conn:
        later = inspection.shipments_in(
            conn,
            api.consortium.distributor.address,
            side="inbound",
            start=2**39,
            end=2**40,
            limit=9,
        )
    assert later == []
