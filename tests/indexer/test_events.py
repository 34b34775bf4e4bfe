"""The event outbox on a real chain: a custody lifecycle gives the events its parties are
entitled to (and nobody else), a reorg deletes the events of the dropped blocks, and
their seqs are never given again."""

from __future__ import annotations

from pathlib import Path

from medledger.domain.auth import Member
from medledger.domain.events import EventFilter, EventKind, LedgerEvent, event_json, read_events
from medledger.engines.devchain import DevChain
from medledger.indexer.config import Settings
from medledger.indexer.digest import table_digests
from medledger.indexer.follower import Indexer
from medledger.indexer.source import Web3LogSource
from medledger.ops.demo.consortium import Consortium
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import LicenceKind, Role
from tests.indexer.conftest import connect, index_all

ALL = EventFilter()


def _member(ledger: Ledger, role: Role) -> Member:
    return Member(ledger.address, role, None, "api_key")


def _events_of(
    db_url: str, member: Member, flt: EventFilter = ALL, *, since_block: int = 0
) -> list[LedgerEvent]:
    """The member's events of blocks after `since_block` (the bootstrap's licences before)."""
    with connect(db_url) as conn:
        found = read_events(conn, chain_id=1, member=member, after=0, filter=flt, limit=500)
    return [e for e in found if (e.block_number or 0) > since_block]


def _kinds(events: list[LedgerEvent]) -> list[str]:
    return [e.kind for e in events]


def _lifecycle(c: Consortium) -> dict[str, int]:
    m, d, h = c.manufacturer, c.distributor, c.hospital
    ids = m.commission(c.lot_key, ["EV1", "EV2", "EV3"]).value
    shipped = m.ship(d.address, ids[:2]).value
    d.receive(shipped, temp_min=50, temp_max=90, rejected_ids=[ids[1]], excursion_seconds=600)
    d.release([ids[0]])  # quarantined at receipt by the excursion
    d.quarantine([ids[0]])
    cancelled = m.ship(h.address, [ids[2]]).value
    m.cancel(cancelled)
    recall = m.recall_lot(c.lot_key, level=2, reason_hash=b"\x01" * 32).value
    c.regulator.attest_licence(
        c.hospital2.address,
        kind=LicenceKind.PRACTICE,
        number="LIC-EVENTS-1",
        class_mask=0b1110,
        valid_until=2_000_000_000,
    )
    return {"shipped": shipped, "cancelled": cancelled, "recall": recall}


def test_a_lifecycle_gives_each_party_its_events_and_no_one_elses(
    consortium: Consortium, chain: DevChain, db_url: str
) -> None:
    c = consortium
    start = chain.w3.eth.block_number
    refs = _lifecycle(c)
    index_all(db_url, Web3LogSource(chain.w3), c.deployment)

    def _events(member: Member, flt: EventFilter = ALL) -> list[LedgerEvent]:
        return _events_of(db_url, member, flt, since_block=start)

    regulator = _events(_member(c.regulator, Role.REGULATOR))
    assert [e.seq for e in regulator] == sorted(e.seq for e in regulator)
    assert _kinds(regulator) == [
        EventKind.SHIPMENT_INBOUND,
        EventKind.SHIPMENT_RECEIVED,
        EventKind.SHIPMENT_REJECTED,
        EventKind.ALERT_COLD_CHAIN,
        EventKind.ITEM_RELEASED,
        EventKind.ITEM_QUARANTINED,
        EventKind.SHIPMENT_INBOUND,
        EventKind.SHIPMENT_CANCELLED,
        EventKind.RECALL_ISSUED,
        EventKind.LICENCE_CHANGED,
    ]
    maker = _events(_member(c.manufacturer, Role.MANUFACTURER))
    assert _kinds(maker) == _kinds(regulator)[:-1]  # every event but the hospital's licence
    distributor = _events(_member(c.distributor, Role.DISTRIBUTOR))
    assert _kinds(distributor) == _kinds(regulator)[:6] + [EventKind.RECALL_ISSUED]
    # The hospital was sent a shipment that was cancelled: it never held the lot.
    hospital = _events(_member(c.hospital, Role.HOSPITAL))
    assert _kinds(hospital) == [EventKind.SHIPMENT_INBOUND, EventKind.SHIPMENT_CANCELLED]
    assert {e.shipment_id for e in hospital} == {refs["cancelled"]}
    assert _kinds(_events(_member(c.hospital2, Role.HOSPITAL))) == [EventKind.LICENCE_CHANGED]
    assert _events(_member(c.logistics, Role.LOGISTICS)) == []

    inbound = next(e for e in distributor if e.kind == EventKind.SHIPMENT_INBOUND)
    assert (inbound.gtin, inbound.lot, inbound.shipment_id) == (c.gtin, c.lot, refs["shipped"])
    with connect(db_url) as conn:
        from medledger.domain.events import event_names

        names = event_names(conn, [inbound])
    wire = event_json(inbound, names)
    assert wire["id"] == f"1:{inbound.seq}" and wire["type"] == "shipment.inbound"
    assert wire["occurred_at"].endswith("+08:00")
    assert wire["subject"]["counterparty"]["address"] == c.manufacturer.address
    assert wire["subject"]["counterparty"]["name"] != ""
    assert wire["data"]["receiver"]["address"] == c.distributor.address
    alert = next(e for e in regulator if e.kind == EventKind.ALERT_COLD_CHAIN)
    temperature = event_json(alert)["data"]["temperature"]
    assert temperature["min"] == {"value": 5.0, "unit": "Cel"}
    assert temperature["max"] == {"value": 9.0, "unit": "Cel"}
    assert alert.data["excursion"] == {"value": 600, "unit": "s"}
    assert (alert.data["accepted_count"], alert.data["rejected_count"]) == (1, 1)

    only_recalls = EventFilter(kinds=(EventKind.RECALL_ISSUED,), gtin=c.gtin, lot=c.lot)
    assert _kinds(_events(_member(c.distributor, Role.DISTRIBUTOR), only_recalls)) == [
        EventKind.RECALL_ISSUED
    ]
    from_maker = EventFilter(counterparty=c.manufacturer.address.lower())
    assert {e.kind for e in _events(_member(c.hospital, Role.HOSPITAL), from_maker)} == {
        EventKind.SHIPMENT_INBOUND,
        EventKind.SHIPMENT_CANCELLED,
    }


def test_a_reorg_deletes_the_dropped_blocks_events_and_never_reuses_their_seqs(
    consortium: Consortium, chain: DevChain, tmp_path: Path
) -> None:
    c = consortium
    start = chain.w3.eth.block_number
    ids = c.manufacturer.commission(c.lot_key, ["RW1", "RW2"]).value
    c.manufacturer.ship(c.distributor.address, ids[:1])
    snapshot = chain.tester.take_snapshot()
    c.manufacturer.ship(c.hospital.address, ids[1:])
    db_url = f"sqlite:///{tmp_path / 'index.db'}"
    regulator = _member(c.regulator, Role.REGULATOR)
    source = Web3LogSource(chain.w3)
    with Indexer(Settings(db_url, batch_blocks=1), source, c.deployment) as indexer:
        indexer.catch_up()
        before = _events_of(db_url, regulator, since_block=start)
        assert [e.data["receiver"] for e in before] == [c.distributor.address, c.hospital.address]

        chain.tester.revert_to_snapshot(snapshot)
        c.manufacturer.quarantine(ids[1:])
        chain.tester.mine_blocks(3)
        result = indexer.sync_once()
        assert result is not None and result.rewound_to is not None
        indexer.catch_up()

    after = _events_of(db_url, regulator, since_block=start)
    assert _kinds(after) == [EventKind.SHIPMENT_INBOUND, EventKind.ITEM_QUARANTINED]
    assert after[0].seq == before[0].seq
    assert after[1].seq > before[1].seq  # the rewound event's seq is not given again
    assert _events_of(db_url, _member(c.hospital, Role.HOSPITAL), since_block=start) == []
    with connect(db_url) as conn:
        digests = table_digests(conn)
    clean = f"sqlite:///{tmp_path / 'clean.db'}"
    index_all(clean, source, c.deployment)
    with connect(clean) as conn:
        assert table_digests(conn) == digests
