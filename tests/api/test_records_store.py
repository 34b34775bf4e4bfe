"""The sealed-records store (`domain.records`): a structured record is encrypted at rest,
readable by exactly its parties, and its salted commitment (the value the chain carries)
opens only with the stored salt and body."""

from __future__ import annotations

import hashlib

import pytest
from eth_utils import keccak
from sqlalchemy import select

from medledger.domain import records
from medledger.domain.chain import custodial_ledger
from medledger.domain.errors import ApiError, NotFound
from medledger.domain.records import RecordKind
from medledger.domain.store import api_store
from medledger.indexer.store.tables import records as records_table
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv

partner = partner_env.partner

SUBJECT = b"\x01" * 32
BODY = {"lot": "L2026-07", "conclusion": "合格", "accepted": 48, "rejected": 2, "note": "外箱破损"}


def _seal(partner: PartnerEnv) -> records.SealedRecord:
    c = partner.api.consortium
    return records.seal(
        partner.api.services,
        kind=RecordKind.ACCEPTANCE,
        author=c.distributor.address,
        readers=[c.manufacturer.address],
        subject_id=SUBJECT,
        body=BODY,
    )


def test_a_record_is_encrypted_at_rest_and_its_commitment_is_salted(partner: PartnerEnv) -> None:
    record = _seal(partner)
    with api_store(partner.api.services).engine.connect() as conn:
        ciphertext = conn.execute(
            select(records_table.c.ciphertext).where(records_table.c.id == record.id)
        ).scalar_one()
    assert "外箱破损".encode() not in ciphertext and b"L2026-07" not in ciphertext
    plain = records.canonical(BODY)
    # Not the unsalted hash of the body, in either form a guesser would try.
    assert record.commitment not in (keccak(plain), keccak(hashlib.sha256(plain).digest()))
    salt, opened = records.opening(partner.api.services, record.id)
    assert opened == plain
    assert records.matches(record.commitment, salt, opened)
    assert not records.matches(record.commitment, salt, opened.replace(b"48", b"49"))
    assert not records.matches(record.commitment, b"\x00" * 32, opened)


def test_exactly_the_parties_read_a_record(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    services = partner.api.services
    record = _seal(partner)
    for reader, regulator in ((c.distributor, False), (c.manufacturer, False), (c.regulator, True)):
        view = records.read(services, record.id, reader=reader.address, regulator=regulator)
        assert view.body == BODY and view.record.kind == "acceptance"
    with pytest.raises(NotFound):
        records.read(services, record.id, reader=c.hospital.address, regulator=False)
    # Claiming to be a regulator is what the caller decides; a member address alone is not.
    with pytest.raises(NotFound):
        records.read(services, record.id, reader=c.regulator.address, regulator=False)
    assert (
        records.by_commitment(
            services, record.commitment, reader=c.hospital.address, regulator=False
        )
        is None
    )
    records.share(services, record.id, c.hospital.address)
    records.share(services, record.id, c.hospital.address)  # twice changes nothing
    view = records.read(services, record.id, reader=c.hospital.address, regulator=False)
    assert view.body["conclusion"] == "合格"
    listed = records.list_for(
        services, reader=c.hospital.address, regulator=False, kind=RecordKind.ACCEPTANCE
    )
    assert [r.id for r in listed] == [record.id]
    assert records.list_for(services, reader=c.hospital2.address, regulator=False) == []


def test_a_record_anchored_on_its_own_is_on_chain_under_its_kind(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    services = partner.api.services
    record = _seal(partner)
    ledger = custodial_ledger(services, c.distributor.address)
    anchored = records.anchor(services, record, ledger=ledger)
    assert anchored.anchored_tx is not None
    on_chain = c.regulator.anchor(record.commitment)
    assert on_chain["anchored_by"] == c.distributor.address
    assert on_chain["kind"] == records.ANCHOR_KINDS[RecordKind.ACCEPTANCE]
    view = records.read(services, record.id, reader=c.distributor.address, regulator=False)
    assert view.record.anchored_tx == anchored.anchored_tx


def test_a_record_that_is_not_plain_json_or_too_large_is_refused(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    services = partner.api.services
    for body, code in (
        ({"when": object()}, "record_not_json"),
        ({"x": float("nan")}, "record_not_json"),
        ({"note": "长" * records.MAX_RECORD_BYTES}, "record_too_large"),
    ):
        with pytest.raises(ApiError) as caught:
            records.seal(
                services,
                kind=RecordKind.SERVICE,
                author=c.manufacturer.address,
                readers=[],
                subject_id=SUBJECT,
                body=body,
            )
        assert caught.value.code == code
    assert records.list_for(services, reader=c.manufacturer.address, regulator=False) == []
