"""Return inspection (退货验收) through the partner API: goods a receiver rejected come back
to the sender, which sees them awaiting inspection and records it (sealed for the parties,
anchored, dispositions carried out on chain); goods returned on a return order are
inspected by the supplier the same way. Everyone else gets 404."""

from __future__ import annotations

from typing import Any

from medledger.ops.demo.consortium import DEMO_LOT
from medledger.sdk.model import ItemStatus
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv
from tests.api.test_partner import commission, deliver, post, ship

partner = partner_env.partner


def _awaiting(partner: PartnerEnv, who: Any) -> list[dict[str, Any]]:
    got = partner.api.client.get("/v1/partner/return-inspections", headers=partner.login(who))
    assert got.status_code == 200, got.text
    found: list[dict[str, Any]] = got.json()["returns"]
    return found


def _inspection(gtin: str, lot: str, disposition: str) -> dict[str, Any]:
    line = {
        "gtin": gtin,
        "lot_number": lot,
        "received_back": True,
        "condition": "carton dented, seals intact",
        "disposition": disposition,
        "note": "held for the QA review",
    }
    return {"inspector": "Wang Li", "note": "two units back", "lines": [line]}


def test_rejected_goods_await_the_senders_inspection_which_quarantines_them(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    ids = commission(partner, "RI1", "RI2", "RI3")
    shipment_id = ship(partner, c.manufacturer, c.distributor, ids)
    receipt = {"temp_min": 40, "temp_max": 60, "rejected_ids": ids[1:]}
    got = post(partner, f"/v1/partner/shipments/{shipment_id}/receive", c.distributor, receipt)
    assert got.status_code == 200, got.text
    partner.api.sync()

    [waiting] = _awaiting(partner, c.manufacturer)
    assert waiting["shipment_id"] == shipment_id
    assert waiting["origin"] == "rejected"
    assert waiting["counterparty"] == c.distributor.address
    [line] = waiting["lines"]
    assert (line["gtin"], line["lot_number"], line["quantity"]) == (c.gtin, DEMO_LOT, 2)
    assert line["serials"] == ["RI2", "RI3"]
    for other in (c.distributor, c.hospital, c.logistics):
        assert _awaiting(partner, other) == []

    path = f"/v1/partner/shipments/{shipment_id}/return-inspection"
    body = _inspection(c.gtin, DEMO_LOT, "quarantine")
    for other in (c.distributor, c.hospital):  # the receiver that rejected, a stranger
        refused = post(partner, path, other, body)
        assert refused.status_code == 404, refused.text
        assert refused.json()["code"] == "return_not_found"
    wrong = post(partner, path, c.manufacturer, _inspection(c.gtin, "OTHERLOT", "restock"))
    assert wrong.status_code == 422, wrong.text
    assert wrong.json()["code"] == "return_inspection_lines"

    done = post(partner, path, c.manufacturer, body)
    assert done.status_code == 201, done.text
    record_id = done.json()["record_id"]
    assert done.json()["tx_hash"]
    for unit in ids[1:]:
        assert c.manufacturer.item(bytes.fromhex(unit[2:])).status is ItemStatus.QUARANTINED
    assert c.manufacturer.item(bytes.fromhex(ids[0][2:])).status is not ItemStatus.QUARANTINED

    for who, status in (
        (c.manufacturer, 200),
        (c.distributor, 200),
        (c.regulator, 200),
        (c.hospital, 404),
        (c.logistics, 404),
    ):
        read = partner.api.client.get(
            f"/v1/partner/records/{record_id}", headers=partner.login(who)
        )
        assert read.status_code == status, (who.address, read.text)
        if status == 200:
            record = read.json()
            assert record["kind"] == "return_inspection"
            assert record["anchored_tx"]
            assert record["body"]["lines"][0]["disposition"] == "quarantine"
            assert record["body"]["lines"][0]["serials"] == ["RI2", "RI3"]
        else:
            assert "Wang Li" not in read.text
    partner.api.sync()
    assert _awaiting(partner, c.manufacturer) == []
    again = post(partner, path, c.manufacturer, body)
    assert again.status_code == 404, again.text


def test_goods_returned_on_a_return_order_are_inspected_by_the_supplier(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    ids = commission(partner, "RO1", "RO2")
    deliver(partner, c.manufacturer, c.distributor, ids)
    deliver(partner, c.distributor, c.hospital, ids)
    partner.api.sync()
    order = {"supplier": c.distributor.address, "item_ids": [ids[0]], "reason": "damaged"}
    sent = post(partner, "/v1/partner/returns", c.hospital, order)
    assert sent.status_code == 201, sent.text
    shipment_id = sent.json()["shipment_id"]
    partner.api.sync()
    assert _awaiting(partner, c.distributor) == []  # not received yet
    got = post(
        partner,
        f"/v1/partner/shipments/{shipment_id}/receive",
        c.distributor,
        {"temp_min": 40, "temp_max": 60},
    )
    assert got.status_code == 200, got.text
    partner.api.sync()

    [waiting] = _awaiting(partner, c.distributor)
    assert (waiting["shipment_id"], waiting["origin"]) == (shipment_id, "return_order")
    assert waiting["counterparty"] == c.hospital.address
    assert waiting["lines"][0]["serials"] == ["RO1"]
    assert _awaiting(partner, c.hospital) == []
    path = f"/v1/partner/shipments/{shipment_id}/return-inspection"
    assert (
        post(partner, path, c.hospital, _inspection(c.gtin, DEMO_LOT, "destroy")).status_code == 404
    )
    done = post(partner, path, c.distributor, _inspection(c.gtin, DEMO_LOT, "destroy"))
    assert done.status_code == 201, done.text
    assert c.distributor.item(bytes.fromhex(ids[0][2:])).status is ItemStatus.DESTROYED
