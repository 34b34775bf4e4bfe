from __future__ import annotations

import datetime as dt
from typing import Any

from eth_utils import keccak

from medledger.sdk import gs1
from medledger.sdk.ledger import Ledger
from tests.api import partner_env
from tests.api.adverse_reports import report_body
from tests.api.partner_env import PartnerEnv

partner = partner_env.partner


def h(value: bytes) -> str:
    return "0x" + value.hex()


def post(partner: PartnerEnv, path: str, who: Ledger, body: dict[str, Any] | None = None) -> Any:
    return partner.api.client.post(path, json=body or {}, headers=partner.login(who))


def commission(partner: PartnerEnv, *serials: str) -> list[str]:
    c = partner.api.consortium
    body = {"lot_key": h(c.lot_key), "serials": list(serials)}
    response = post(partner, "/v1/partner/commission", c.manufacturer, body)
    assert response.status_code == 201, response.text
    ids: list[str] = response.json()["item_ids"]
    assert ids == [h(gs1.item_id(gs1.unit_path(c.gtin, s))) for s in serials]
    return ids


def ship(partner: PartnerEnv, sender: Ledger, receiver: Ledger, ids: list[str]) -> int:
    body = {"receiver": receiver.address, "item_ids": ids}
    response = post(partner, "/v1/partner/shipments", sender, body)
    assert response.status_code == 201, response.text
    assert response.json()["signed_by"] == "custodial"
    shipment_id: int = response.json()["shipment_id"]
    return shipment_id


def test_a_manufacturer_registers_a_product_and_lot_through_the_api(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    now = partner.api.chain.now()
    gtin = gs1.make_gtin(indicator=0, company_prefix=c.prefix, item_reference=77)
    product = post(
        partner,
        "/v1/partner/products",
        c.manufacturer,
        {
            "gtin": gtin,
            "company_prefix": c.prefix,
            "device_class": 2,
            "certificate_hash": h(keccak(text="cert")),
            "registration_expiry": now + 10**7,
            "temp_min": 20,
            "temp_max": 80,
        },
    )
    assert product.status_code == 201, product.text
    assert product.json()["events"][0]["name"] == "ProductRegistered"
    lot = post(
        partner,
        "/v1/partner/lots",
        c.manufacturer,
        {"gtin": gtin, "lot": "L1", "production_date": now - 100, "expiry": now + 10**7},
    )
    assert lot.status_code == 201, lot.text
    assert lot.json()["lot_key"] == h(gs1.lot_key(gtin, "L1"))
    assert c.manufacturer.lot(gs1.lot_key(gtin, "L1")) is not None


def test_a_distributor_cannot_register_a_product_under_the_manufacturers_prefix(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    gtin = gs1.make_gtin(indicator=0, company_prefix=c.prefix, item_reference=78)
    body = {
        "gtin": gtin,
        "company_prefix": c.prefix,
        "device_class": 2,
        "certificate_hash": h(keccak(text="cert")),
        "registration_expiry": partner.api.chain.now() + 10**7,
        "temp_min": 20,
        "temp_max": 80,
    }
    response = post(partner, "/v1/partner/products", c.distributor, body)
    assert response.status_code in (409, 422)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"].startswith("Devices")


def test_commission_pack_ship_receive_unpack_and_dispense_through_the_api(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    ids = commission(partner, "API0001", "API0002")
    sscc = gs1.make_sscc(extension=0, company_prefix=c.prefix, serial_reference=1)
    container = post(
        partner,
        "/v1/partner/containers",
        c.manufacturer,
        {"sscc": sscc, "company_prefix": c.prefix},
    )
    assert container.status_code == 201, container.text
    cid = container.json()["container_id"]
    assert cid == h(gs1.item_id(gs1.container_path(sscc)))
    packed = post(partner, f"/v1/partner/containers/{cid}/pack", c.manufacturer, {"item_ids": ids})
    assert packed.status_code == 200, packed.text

    shipment_id = ship(partner, c.manufacturer, c.distributor, [cid])
    received = post(
        partner,
        f"/v1/partner/shipments/{shipment_id}/receive",
        c.distributor,
        {
            "temp_min": 40,
            "temp_max": 60,
            "excursion_seconds": 0,
            "inspection_hash": h(b"\x07" * 32),
        },
    )
    assert received.status_code == 200, received.text
    assert received.json()["item_ids"] == [cid]
    unpacked = post(partner, f"/v1/partner/containers/{cid}/unpack", c.distributor)
    assert unpacked.status_code == 200, unpacked.text
    assert sorted(unpacked.json()["item_ids"]) == sorted(ids)

    second = ship(partner, c.distributor, c.hospital, ids)
    post(
        partner,
        f"/v1/partner/shipments/{second}/receive",
        c.hospital,
        {"temp_min": 50, "temp_max": 70},
    )
    dispensed = post(partner, "/v1/partner/items/dispense", c.hospital, {"item_ids": ids[:1]})
    assert dispensed.status_code == 200, dispensed.text
    assert c.hospital.item(bytes.fromhex(ids[0][2:])).status.name == "DISPENSED"

    partner.api.sync()
    shipment = partner.api.client.get(
        f"/v1/partner/shipments/{shipment_id}", headers=partner.login(c.distributor)
    )
    assert shipment.status_code == 200, shipment.text
    body = shipment.json()
    assert body["temperature_min"] == {"value": 4.0, "unit": "Cel"}
    assert body["status"] == "received" and body["direction"] == "inbound"
    assert body["sender"]["address"] == c.manufacturer.address and body["sender"]["name"]
    assert dt.datetime.fromisoformat(body["sent_at"]).utcoffset() is not None
    assert body["settled_at"] >= body["sent_at"]


def test_a_receiver_rejects_part_of_a_shipment_with_its_acceptance_record(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    ids = commission(partner, "REJ01", "REJ02")
    shipment_id = ship(partner, c.manufacturer, c.distributor, ids)
    received = post(
        partner,
        f"/v1/partner/shipments/{shipment_id}/receive",
        c.distributor,
        {"temp_min": 30, "temp_max": 90, "rejected_ids": ids[1:], "excursion_seconds": 60},
    )
    assert received.status_code == 200, received.text
    assert received.json()["item_ids"] == ids[:1]
    assert c.manufacturer.item(bytes.fromhex(ids[1][2:])).holder == c.manufacturer.address


def test_a_sender_cancels_a_shipment_in_transit(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    ids = commission(partner, "CAN01")
    shipment_id = ship(partner, c.manufacturer, c.distributor, ids)
    cancelled = post(partner, f"/v1/partner/shipments/{shipment_id}/cancel", c.manufacturer)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["events"][-1]["name"] == "ShipmentCancelled"
    unknown = post(partner, "/v1/partner/shipments/999/cancel", c.manufacturer)
    assert unknown.status_code == 404


def test_quarantine_release_and_destroy_through_the_api(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    ids = commission(partner, "QR01")
    body = {"item_ids": ids, "record_hash": h(b"\x01" * 32)}
    for action in ("quarantine", "release", "destroy"):
        response = post(partner, f"/v1/partner/items/{action}", c.manufacturer, body)
        assert response.status_code == 200, (action, response.text)
    assert c.manufacturer.item(bytes.fromhex(ids[0][2:])).status.name == "DESTROYED"


def test_the_old_recall_route_with_a_client_hash_is_retired(partner: PartnerEnv) -> None:
    """A recall carries a sealed notice (`POST /v1/partner/recalls/notice`, tested in
    test_recall_execution): the route that put a client-computed reason hash on chain is
    gone from the API and its OpenAPI."""
    c = partner.api.consortium
    body = {"lot_key": h(c.lot_key), "level": 2, "reason_hash": h(keccak(text="sterility"))}
    gone = post(partner, "/v1/partner/recalls", c.manufacturer, body)
    assert gone.status_code == 405, gone.text
    assert c.manufacturer.lot(c.lot_key).active_recall == 0  # type: ignore[union-attr]
    paths = partner.api.client.get("/openapi.json").json()["paths"]
    assert "post" not in paths["/v1/partner/recalls"] and "get" in paths["/v1/partner/recalls"]
    notice = paths["/v1/partner/recalls/notice"]["post"]["requestBody"]["content"]
    schema = notice["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    fields = partner.api.client.get("/openapi.json").json()["components"]["schemas"][schema]
    assert {"gtin", "lot", "level", "reason", "action", "contact"} <= set(fields["properties"])
    assert "reason_hash" not in fields["properties"]


def deliver(partner: PartnerEnv, sender: Ledger, receiver: Ledger, ids: list[str]) -> int:
    """Ship `ids` and have the receiver accept them all; the shipment id."""
    shipment_id = ship(partner, sender, receiver, ids)
    path = f"/v1/partner/shipments/{shipment_id}/receive"
    received = post(partner, path, receiver, {"temp_min": 40, "temp_max": 60})
    assert received.status_code == 200, received.text
    return shipment_id


def test_an_adverse_event_about_a_subject_that_does_not_concern_the_member_is_refused(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    never_commissioned = h(gs1.item_id(gs1.unit_path(c.gtin, "NEVER1")))
    held_by_another = commission(partner, "AE02")[0]  # at the manufacturer
    for subject in (never_commissioned, held_by_another, h(c.lot_key)):
        refused = post(partner, "/v1/partner/adverse-events", c.hospital, report_body(subject))
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "RecordsNotConcerned"
        assert refused.json()["arguments"]["subjectId"] == subject
    about_the_lot = report_body(h(c.lot_key), severity=3)
    accepted = post(partner, "/v1/partner/adverse-events", c.manufacturer, about_the_lot)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["report_id"] == 1  # the refused reports took no id


def test_shipping_an_item_one_does_not_hold_is_a_problem_named_after_the_solidity_error(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    ids = commission(partner, "NH01")
    body = {"receiver": c.hospital.address, "item_ids": ids}
    response = post(partner, "/v1/partner/shipments", c.distributor, body)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "ItemsNotHolder"
    # Least visible: the holder of another member's unit is not named.
    assert response.json()["arguments"] == {"id": ids[0]}
    assert c.manufacturer.address not in response.text


def test_a_partner_signed_ship_order_is_verified_and_relayed_by_the_platform(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    ids = commission(partner, "SIG01")
    headers = partner.login(c.manufacturer)
    nonce = partner.api.client.get("/v1/partner/nonce", headers=headers).json()["nonce"]
    deadline = partner.api.chain.now() + 3600
    raw_ids = [bytes.fromhex(i[2:]) for i in ids]
    _, signature = c.manufacturer.sign_ship(
        c.distributor.address, raw_ids, nonce=nonce, deadline=deadline
    )
    body = {
        "receiver": c.distributor.address,
        "item_ids": ids,
        "nonce": nonce,
        "deadline": deadline,
        "signature": h(signature),
    }
    response = partner.api.client.post("/v1/partner/shipments", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["signed_by"] == "member (relayed)"
    receipt = partner.api.chain.w3.eth.get_transaction(response.json()["tx_hash"])
    assert receipt["from"] == partner.api.chain.accounts[7].address

    order, rsig = c.distributor.sign_receive(
        response.json()["shipment_id"],
        temp_min=40,
        temp_max=60,
        nonce=c.distributor.nonce(),
        deadline=deadline,
    )
    received = partner.api.client.post(
        f"/v1/partner/shipments/{order.shipmentId}/receive",
        json={
            "temp_min": 40,
            "temp_max": 60,
            "nonce": order.nonce,
            "deadline": deadline,
            "signature": h(rsig),
        },
        headers=partner.login(c.distributor),
    )
    assert received.status_code == 200, received.text
    assert received.json()["signed_by"] == "member (relayed)"


def test_an_order_signed_by_another_member_is_refused(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    ids = commission(partner, "WS01")
    deadline = partner.api.chain.now() + 3600
    raw_ids = [bytes.fromhex(i[2:]) for i in ids]
    # The hospital signs an order naming the manufacturer as sender and posts it as the
    # manufacturer would: the signer does not match the signed-in member.
    forged = c.hospital.as_member(c.hospital.account)
    _, signature = forged.sign_ship(c.distributor.address, raw_ids, nonce=0, deadline=deadline)
    body = {
        "receiver": c.distributor.address,
        "item_ids": ids,
        "nonce": 0,
        "deadline": deadline,
        "signature": h(signature),
    }
    response = partner.api.client.post(
        "/v1/partner/shipments", json=body, headers=partner.login(c.manufacturer)
    )
    assert response.status_code == 403
    assert response.json()["code"] == "wrong_signer"
    missing = dict(body, nonce=None)
    incomplete = partner.api.client.post(
        "/v1/partner/shipments", json=missing, headers=partner.login(c.manufacturer)
    )
    assert incomplete.json()["code"] == "incomplete_order"


def _raw_anchor(partner: PartnerEnv, signer: Ledger, sender: Ledger) -> str:
    records = partner.api.chain.w3.eth.contract(
        address=c_addr(partner), abi=partner.api.services.artifacts["Records"].abi
    )
    w3 = partner.api.chain.w3
    tx = records.functions.anchorDocument(b"\x02" * 32, b"\x01" * 32, 1).build_transaction(
        {
            "from": sender.address,
            "nonce": w3.eth.get_transaction_count(signer.address),
            "gas": 300_000,
            "gasPrice": w3.eth.gas_price,
            "chainId": w3.eth.chain_id,
        }
    )
    return h(bytes(signer.account.sign_transaction(tx).raw_transaction))


def c_addr(partner: PartnerEnv) -> str:
    return partner.api.chain.w3.to_checksum_address(partner.api.consortium.deployment.records)


def test_a_raw_transaction_signed_by_the_member_is_submitted(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    raw = _raw_anchor(partner, c.logistics, c.logistics)
    response = post(partner, "/v1/partner/transactions", c.logistics, {"raw_transaction": raw})
    assert response.status_code == 201, response.text
    assert response.json()["events"][0]["name"] == "DocumentAnchored"
    assert response.json()["signed_by"] == "member (raw)"


def test_a_raw_transaction_signed_by_someone_else_is_refused(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    raw = _raw_anchor(partner, c.hospital2, c.hospital2)
    response = post(partner, "/v1/partner/transactions", c.logistics, {"raw_transaction": raw})
    assert response.status_code == 403
    assert response.json()["code"] == "wrong_signer"
    garbage = post(partner, "/v1/partner/transactions", c.logistics, {"raw_transaction": "0x01"})
    assert garbage.json()["code"] == "invalid_transaction"


def test_a_raw_transaction_that_breaks_a_ledger_rule_is_refused_before_submission(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    w3 = partner.api.chain.w3
    items = w3.eth.contract(
        address=w3.to_checksum_address(c.deployment.items),
        abi=partner.api.services.artifacts["Items"].abi,
    )
    nonce = w3.eth.get_transaction_count(c.logistics.address)
    tx = items.functions.commission(c.lot_key, ["RAW01"]).build_transaction(
        {
            "from": c.logistics.address,
            "nonce": nonce,
            "gas": 500_000,
            "gasPrice": w3.eth.gas_price,
            "chainId": w3.eth.chain_id,
        }
    )
    raw = h(bytes(c.logistics.account.sign_transaction(tx).raw_transaction))
    response = post(partner, "/v1/partner/transactions", c.logistics, {"raw_transaction": raw})
    assert response.status_code in (409, 422)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"].startswith("Items")
    assert w3.eth.get_transaction_count(c.logistics.address) == nonce


def test_a_partner_signed_cancel_order_is_relayed(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    ids = commission(partner, "SCAN01")
    shipment_id = ship(partner, c.manufacturer, c.distributor, ids)
    deadline = partner.api.chain.now() + 3600
    order, signature = c.manufacturer.sign_cancel(shipment_id, deadline=deadline)
    body = {"nonce": order.nonce, "deadline": deadline, "signature": h(signature)}
    wrong = post(partner, f"/v1/partner/shipments/{shipment_id}/cancel", c.distributor, body)
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "wrong_signer"
    response = post(partner, f"/v1/partner/shipments/{shipment_id}/cancel", c.manufacturer, body)
    assert response.status_code == 200, response.text
    assert response.json()["signed_by"] == "member (relayed)"
    assert c.manufacturer.item(bytes.fromhex(ids[0][2:])).holder == c.manufacturer.address
