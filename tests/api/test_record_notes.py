"""The partner API takes the record or reason a write carries as typed text (`record`),
seals it for the parties and passes only its salted commitment to the ledger: each kind
is read back by exactly its parties and checked by the regulator against the event that
carries it. A partner may still pass a 32-byte hash it salted itself, not both."""

from __future__ import annotations

from typing import Any

from eth_utils import keccak

from medledger.sdk.ledger import Ledger
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv
from tests.api.test_partner import commission, h, post, ship

partner = partner_env.partner


def _check(partner: PartnerEnv, record_id: str) -> dict[str, Any]:
    c = partner.api.consortium
    answer = partner.api.client.get(
        f"/v1/partner/records/{record_id}/verification", headers=partner.login(c.regulator)
    )
    assert answer.status_code == 200, answer.text
    out: dict[str, Any] = answer.json()
    return out


def _readers(partner: PartnerEnv, record_id: str) -> set[str]:
    c = partner.api.consortium
    everyone: list[Ledger] = [
        c.regulator,
        c.manufacturer,
        c.distributor,
        c.logistics,
        c.hospital,
        c.hospital2,
    ]
    return {
        who.address
        for who in everyone
        if partner.api.client.get(
            f"/v1/partner/records/{record_id}", headers=partner.login(who)
        ).status_code
        == 200
    }


def test_each_write_seals_its_typed_record_and_the_chain_carries_only_the_commitment(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    own = {c.manufacturer.address, c.regulator.address}
    ids = commission(partner, "RN01", "RN02", "RN03")
    expected = {
        "quarantine": ("ItemsQuarantined", "reasonHash"),
        "release": ("DocumentAnchored", "documentHash"),
        "destroy": ("ItemsDestroyed", "recordHash"),
    }
    for action, (event, argument) in expected.items():
        record = {"reference": f"QA-{action}-7", "note": "damp carton"}
        body = {"item_ids": ids[:1], "record": record}
        done = post(partner, f"/v1/partner/items/{action}", c.manufacturer, body)
        assert done.status_code == 200, (action, done.text)
        record_id = done.json()["record_id"]
        check = _check(partner, record_id)
        assert check["matches"] is True and (check["event"], check["argument"]) == (event, argument)
        assert _readers(partner, record_id) == own
        on_chain = [e for e in done.json()["events"] if e["name"] == event]
        if on_chain:
            assert on_chain[0]["args"][argument] != h(keccak(text=record["reference"]))

    note = {"note": "two cartons, pallet wrapped"}
    body = {"receiver": c.distributor.address, "item_ids": ids[1:2], "record": note}
    sent = post(partner, "/v1/partner/shipments", c.manufacturer, body)
    assert sent.status_code == 201, sent.text
    assert _check(partner, sent.json()["record_id"])["event"] == "ShipmentSent"
    assert _readers(partner, sent.json()["record_id"]) == own | {c.distributor.address}

    cancel = {"record": {"reference": "wrong address"}}
    path = f"/v1/partner/shipments/{sent.json()['shipment_id']}/cancel"
    cancelled = post(partner, path, c.manufacturer, cancel)
    assert cancelled.status_code == 200, cancelled.text
    check = _check(partner, cancelled.json()["record_id"])
    assert (check["event"], check["matches"]) == ("ShipmentCancelled", True)
    assert _readers(partner, cancelled.json()["record_id"]) == own | {c.distributor.address}


def test_a_lot_is_registered_with_its_qc_release_sealed(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    now = partner.api.chain.now()
    day = 86_400
    body = {
        "gtin": c.gtin,
        "lot": "QCREL1",
        "production_date": now - now % day - 8 * 3600,
        "expiry": now - now % day + 400 * day - 8 * 3600 + day - 1,
        "qc_release": "QC release QCREL1, batch record BR-2026-31, passed",
    }
    done = post(partner, "/v1/partner/lots", c.manufacturer, body)
    assert done.status_code == 201, done.text
    check = _check(partner, done.json()["record_id"])
    assert (check["event"], check["matches"]) == ("LotRegistered", True)


def test_a_record_and_a_hash_together_or_a_record_on_a_signed_order_are_refused(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    ids = commission(partner, "RN09")
    both = {"item_ids": ids, "record": {"reference": "x"}, "record_hash": h(b"\x01" * 32)}
    refused = post(partner, "/v1/partner/items/quarantine", c.manufacturer, both)
    assert refused.status_code == 422
    empty = {"item_ids": ids, "record": {"reference": "  ", "note": ""}}
    assert post(partner, "/v1/partner/items/quarantine", c.manufacturer, empty).status_code == 422
    long = {"item_ids": ids, "record": {"reference": "r" * 201}}
    assert post(partner, "/v1/partner/items/quarantine", c.manufacturer, long).status_code == 422
    shipment_id = ship(partner, c.manufacturer, c.distributor, ids)
    deadline = partner.api.chain.now() + 3600
    order, signature = c.manufacturer.sign_cancel(shipment_id, deadline=deadline)
    signed = {
        "nonce": order.nonce,
        "deadline": deadline,
        "signature": h(signature),
        "record": {"reference": "late"},
    }
    answer = post(partner, f"/v1/partner/shipments/{shipment_id}/cancel", c.manufacturer, signed)
    assert answer.status_code == 422 and answer.json()["code"] == "record_needs_custodial_key"
