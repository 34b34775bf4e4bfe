"""The acceptance record (验收记录) of a receipt (issue #16 item 2): the receive API takes
the full record, seals it for sender, receiver, manufacturer and regulator, and puts its
salted commitment on chain as the inspection hash (no unsalted hash of the JSON, nothing
of the text on chain); the parties read it back, anyone else gets 404.
"""

from __future__ import annotations

from typing import Any

from eth_utils import keccak

from medledger.domain import records
from medledger.domain.records import canonical
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv

partner = partner_env.partner


def _record(gtin: str, lot: str) -> dict[str, Any]:
    return {
        "inspector": "李验收",
        "temperature_on_arrival": 45,
        "note": "外包装完好",
        "lines": [
            {
                "gtin": gtin,
                "product": "冠脉支架",
                "specification": "3.0 x 18 mm",
                "registration_number": "国械注准20263130001",
                "lot": lot,
                "expiry": "2028-12-31",
                "quantity_received": 2,
                "quantity_accepted": 1,
                "quantity_rejected": 1,
                "conclusion": "unqualified",
                "note": "一支包装破损",
            }
        ],
    }


def test_a_receipt_carries_the_sealed_acceptance_record(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    client = partner.api.client
    units = c.manufacturer.commission(c.lot_key, ["ACC1", "ACC2"]).value
    shipment = c.manufacturer.ship(c.distributor.address, units).value
    body = {
        "temp_min": 40,
        "temp_max": 60,
        "rejected_ids": ["0x" + units[1].hex()],
        "acceptance": _record(c.gtin, c.lot),
    }
    received = client.post(
        f"/v1/partner/shipments/{shipment}/receive", json=body, headers=partner.login(c.distributor)
    )
    assert received.status_code == 200, received.text
    event = next(e for e in received.json()["events"] if e["name"] == "ShipmentReceived")
    commitment = bytes.fromhex(event["args"]["inspectionHash"][2:])
    # salted: not the keccak of the record's canonical JSON
    assert commitment != keccak(canonical(body["acceptance"]))
    for reader in (c.distributor, c.manufacturer, c.regulator):
        read = client.get(
            f"/v1/partner/shipments/{shipment}/acceptance", headers=partner.login(reader)
        )
        assert read.status_code == 200, read.text
        record = read.json()
        assert record["commitment"] == "0x" + commitment.hex()
        assert record["anchored_tx"] == received.json()["tx_hash"]
        assert record["body"]["inspector"] == "李验收"
        assert record["body"]["lines"][0]["registration_number"] == "国械注准20263130001"
        assert record["body"]["lines"][0]["conclusion"] == "unqualified"
    for outsider in (c.hospital, c.hospital2):
        read = client.get(
            f"/v1/partner/shipments/{shipment}/acceptance", headers=partner.login(outsider)
        )
        assert read.status_code == 404, read.text
    salt, plaintext = records.opening(partner.api.services, record["record_id"])
    assert records.matches(commitment, salt, plaintext)


def test_a_record_must_balance_and_cannot_come_with_a_hash(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    client = partner.api.client
    (unit,) = c.manufacturer.commission(c.lot_key, ["ACC3"]).value
    shipment = c.manufacturer.ship(c.distributor.address, [unit]).value
    record = _record(c.gtin, c.lot)
    record["lines"][0]["quantity_rejected"] = 0
    headers = partner.login(c.distributor)
    url = f"/v1/partner/shipments/{shipment}/receive"
    unbalanced = client.post(
        url, json={"temp_min": 40, "temp_max": 60, "acceptance": record}, headers=headers
    )
    assert unbalanced.status_code == 422, unbalanced.text
    both = client.post(
        url,
        json={
            "temp_min": 40,
            "temp_max": 60,
            "inspection_hash": "0x" + "11" * 32,
            "acceptance": _record(c.gtin, c.lot),
        },
        headers=headers,
    )
    assert both.status_code == 422, both.text
    assert both.json()["code"] == "acceptance_with_hash"


def test_a_self_signer_seals_first_and_only_the_receiver_may(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    client = partner.api.client
    (unit,) = c.manufacturer.commission(c.lot_key, ["ACC4"]).value
    shipment = c.manufacturer.ship(c.distributor.address, [unit]).value
    url = f"/v1/partner/shipments/{shipment}/acceptance"
    record = _record(c.gtin, c.lot)
    record["lines"][0].update(quantity_received=1, quantity_accepted=1, quantity_rejected=0)
    sender = client.post(url, json=record, headers=partner.login(c.manufacturer))
    assert sender.status_code == 404, sender.text
    sealed = client.post(url, json=record, headers=partner.login(c.distributor))
    assert sealed.status_code == 201, sealed.text
    commitment = bytes.fromhex(sealed.json()["commitment"][2:])
    result = c.distributor.receive(shipment, temp_min=40, temp_max=60, inspection_hash=commitment)
    assert result.event("ShipmentReceived")["inspectionHash"] == commitment
