"""Business transactions and ship-from/ship-to sites: given at ship time in the sealed
delivery note (never on chain), validated (CBV types, bounded ids, sites of the sender and
receiver), exported as `bizTransactionList` and locations only to the note's parties (the
sender, the receiver, the regulator), and kept from a captured shipping event so that the
round trip capture -> export -> capture holds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft7Validator

from medledger.api.epcis.normalise import normalise
from medledger.api.epcis.schema import schema_text
from medledger.ops.demo.consortium import DEMO_PREFIX, DISTRIBUTOR_PREFIX
from medledger.sdk.gs1 import item_id, make_gln, unit_path
from tests.api import partner_env
from tests.api.conftest import ApiEnv
from tests.api.epcis_docs import dl, doc, event
from tests.api.partner_env import PartnerEnv
from tests.api.regulator_mode import AUTH, regulator_client
from tests.api.test_epcis_jobs import _accepted, _events, _parties
from tests.api.test_partner import commission, h, post

partner = partner_env.partner
MAKER_GLN = make_gln(company_prefix=DEMO_PREFIX, location_reference=1)
DEPOT_GLN = make_gln(company_prefix=DISTRIBUTOR_PREFIX, location_reference=2)
WAREHOUSE = make_gln(company_prefix=DEMO_PREFIX, location_reference=41)
STORE = make_gln(company_prefix=DISTRIBUTOR_PREFIX, location_reference=42)


def _sgln(prefix: str, gln: str) -> str:
    return f"urn:epc:id:sgln:{prefix}.{gln[len(prefix) : 12]}.0"


def _sites(api: ApiEnv) -> None:
    c = api.consortium
    c.regulator.set_primary_gln(c.manufacturer.address, MAKER_GLN)
    c.regulator.set_primary_gln(c.distributor.address, DEPOT_GLN)
    c.manufacturer.register_site(WAREHOUSE, name="苏州仓库", name_en="Suzhou warehouse")
    c.distributor.register_site(STORE, name="嘉定仓库", name_en="Jiading warehouse")
    api.sync()


NOTE: dict[str, Any] = {
    "reference": "DN-2026-0042",
    "biz_transactions": [
        {"type": "po", "id": "PO-2026-0815"},
        {"type": "desadv", "id": "DA-2026-0042"},
        {"type": "inv", "id": "INV-88120"},
    ],
    "ship_from_site": WAREHOUSE,
    "ship_to_site": STORE,
}


def _ship(partner: PartnerEnv, ids: list[str], record: dict[str, Any]) -> Any:
    c = partner.api.consortium
    body = {"receiver": c.distributor.address, "item_ids": ids, "record": record}
    return post(partner, "/v1/partner/shipments", c.manufacturer, body)


def _receive(partner: PartnerEnv, receiver: Any, shipment_id: int) -> None:
    received = post(
        partner,
        f"/v1/partner/shipments/{shipment_id}/receive",
        receiver,
        {"temp_min": 40, "temp_max": 60, "inspection_hash": h(b"\x07" * 32)},
    )
    assert received.status_code == 200, received.text


def _export_as(partner: PartnerEnv, who: Any, epc: str) -> list[dict[str, Any]]:
    r = partner.api.client.get(
        "/v1/epcis/events", params={"MATCH_epc": epc}, headers=partner.login(who)
    )
    assert r.status_code == 200, r.text
    return _events(r.json())


def _step(events: list[dict[str, Any]], step: str, shipment_id: int) -> dict[str, Any]:
    found = [
        e for e in events if e["bizStep"] == step and e.get("medledger:shipmentId") == shipment_id
    ]
    assert len(found) == 1, events
    return found[0]


def test_the_delivery_notes_transactions_and_sites_are_exported_to_its_parties_only(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    c = api.consortium
    _sites(api)
    ids = commission(partner, "BT01")
    sent = _ship(partner, ids, NOTE)
    assert sent.status_code == 201, sent.text
    first = sent.json()["shipment_id"]
    # Only the salted commitment is on chain: no PO number, no site in the calldata.
    tx = c.manufacturer.w3.eth.get_transaction(sent.json()["tx_hash"])
    assert b"PO-2026-0815" not in bytes(tx["input"]) and STORE.encode() not in bytes(tx["input"])
    _receive(partner, c.distributor, first)
    onward = post(
        partner,
        "/v1/partner/shipments",
        c.distributor,
        {"receiver": c.hospital.address, "item_ids": ids},
    )
    assert onward.status_code == 201, onward.text
    _receive(partner, c.hospital, onward.json()["shipment_id"])
    api.sync()

    epc = dl(api, "BT01")
    store, warehouse = _sgln(DISTRIBUTOR_PREFIX, STORE), _sgln(DEMO_PREFIX, WAREHOUSE)
    po = f"urn:epcglobal:cbv:bt:{STORE}:PO-2026-0815"  # issued by the buyer
    desadv = f"urn:epcglobal:cbv:bt:{WAREHOUSE}:DA-2026-0042"  # issued by the seller
    invoice = f"urn:epcglobal:cbv:bt:{WAREHOUSE}:INV-88120"
    expected = [
        {"type": "po", "bizTransaction": po},
        {"type": "desadv", "bizTransaction": desadv},
        {"type": "inv", "bizTransaction": invoice},
    ]
    regulator = regulator_client(api).get(
        "/v1/epcis/events", params={"MATCH_epc": epc}, headers=AUTH
    )
    assert regulator.status_code == 200, regulator.text
    validator = Draft7Validator(json.loads(schema_text()))
    assert not list(validator.iter_errors(regulator.json()))
    for events in (
        _export_as(partner, c.manufacturer, epc),
        _export_as(partner, c.distributor, epc),
        _events(regulator.json()),
    ):
        shipping = _step(events, "shipping", first)
        receiving = _step(events, "receiving", first)
        assert shipping["bizTransactionList"] == expected
        assert receiving["bizTransactionList"] == expected
        assert shipping["readPoint"] == shipping["bizLocation"] == {"id": warehouse}
        assert receiving["readPoint"] == {"id": store}
        assert {"type": "location", "destination": store} in shipping["destinationList"]

    # The hospital held the unit later and sees the first shipment, not its note.
    seen = _export_as(partner, c.hospital, epc)
    shipping = _step(seen, "shipping", first)
    assert "bizTransactionList" not in shipping
    assert shipping["readPoint"] == {"id": _sgln(DEMO_PREFIX, MAKER_GLN)}
    assert _step(seen, "receiving", first)["readPoint"] == {
        "id": _sgln(DISTRIBUTOR_PREFIX, DEPOT_GLN)
    }
    assert "PO-2026-0815" not in json.dumps(seen) and STORE not in json.dumps(seen)


@pytest.mark.parametrize(
    ("record", "code"),
    [
        ({"biz_transactions": [{"type": "order", "id": "1"}]}, "invalid_request"),
        ({"biz_transactions": [{"type": "po", "id": "x" * 129}]}, "invalid_request"),
        ({"biz_transactions": [{"type": "po", "id": " PO-1"}]}, "invalid_request"),
        ({"biz_transactions": [{"type": "po", "id": f"PO-{n}"} for n in range(21)]}, None),
        ({"ship_from_site": "6901234000024"}, "invalid_request"),  # bad check digit
        ({"ship_from_site": STORE}, "ship_from_not_sender_site"),
        ({"ship_to_site": WAREHOUSE}, "ship_to_not_receiver_site"),
        ({"ship_to_site": make_gln(company_prefix=DEMO_PREFIX, location_reference=99)}, None),
    ],
)
def test_a_bad_delivery_note_is_a_422_with_a_code_and_ships_nothing(
    api: ApiEnv, partner: PartnerEnv, record: dict[str, Any], code: str | None
) -> None:
    c = api.consortium
    _sites(api)
    ids = commission(partner, "BT02")
    r = _ship(partner, ids, record)
    assert r.status_code == 422, r.text
    expected = code or (
        "ship_to_not_receiver_site" if "ship_to_site" in record else "invalid_request"
    )
    assert r.json()["code"] == expected
    unit = c.manufacturer.item(item_id(unit_path(c.gtin, "BT02")))
    assert unit.holder == c.manufacturer.address


def _capture_outbound(api: ApiEnv, *, transactions: list[dict[str, str]]) -> dict[str, Any]:
    c = api.consortium
    maker = _sgln(DEMO_PREFIX, MAKER_GLN)
    warehouse = _sgln(DEMO_PREFIX, WAREHOUSE)
    return doc(
        event(
            "ObjectEvent",
            action="ADD",
            bizStep="commissioning",
            epcList=[dl(api, "BT03", c.lot)],
            ilmd={"cbvmda:lotNumber": c.lot},
            readPoint={"id": maker},
            bizLocation={"id": maker},
        ),
        event(
            "ObjectEvent",
            action="OBSERVE",
            bizStep="shipping",
            epcList=[dl(api, "BT03")],
            readPoint={"id": warehouse},
            bizLocation={"id": warehouse},
            bizTransactionList=transactions,
            **_shipping_parties(api),
        ),
    )


def _shipping_parties(api: ApiEnv) -> dict[str, Any]:
    c = api.consortium
    parties = _parties(api, c.manufacturer.address, c.distributor.address)
    parties["destinationList"].append(
        {"type": "location", "destination": _sgln(DISTRIBUTOR_PREFIX, STORE)}
    )
    return parties


def test_capture_keeps_transactions_and_sites_and_the_round_trip_holds(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    c = api.consortium
    _sites(api)
    store = _sgln(DISTRIBUTOR_PREFIX, STORE)
    transactions = [
        {"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:{STORE}:PO-77"},
        {"type": "https://ref.gs1.org/cbv/BTT-desadv", "bizTransaction": "DA-77"},
    ]
    refused = _capture_outbound(
        api, transactions=[{"type": "https://example.com/btt/order", "bizTransaction": "1"}]
    )
    r = partner.api.client.post(
        "/v1/epcis/capture", json=refused, headers=partner.login(c.manufacturer)
    )
    assert r.status_code == 422 and r.json()["code"] == "epcis_biz_transaction_invalid", r.text

    outbound = _capture_outbound(api, transactions=transactions)
    job = _accepted(partner, "manufacturer", outbound)
    assert job["success"] is True, job
    api.sync()
    # The receipt names the shipment's transactions and ship-to site as the note has them.
    report = {"type": "Temperature", "minValue": 2.5, "maxValue": 7.9, "uom": "CEL"}
    inbound = doc(
        event(
            "ObjectEvent",
            action="OBSERVE",
            bizStep="receiving",
            epcList=[dl(api, "BT03")],
            readPoint={"id": store},
            bizLocation={"id": store},
            bizTransactionList=transactions,
            sensorElementList=[{"sensorReport": [report]}],
            **_shipping_parties(api),
        )
    )
    job = _accepted(partner, "distributor", inbound)
    assert job["success"] is True, job
    api.sync()

    exported = regulator_client(api).get(
        "/v1/epcis/events", params={"MATCH_epc": dl(api, "BT03")}, headers=AUTH
    )
    assert exported.status_code == 200, exported.text
    events = _events(exported.json())
    shipping = next(e for e in events if e["bizStep"] == "shipping")
    assert shipping["bizTransactionList"] == [
        {"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:{STORE}:PO-77"},
        {"type": "desadv", "bizTransaction": f"urn:epcglobal:cbv:bt:{WAREHOUSE}:DA-77"},
    ]
    captured = _events(outbound) + _events(inbound)
    assert [normalise(e) for e in events] == [normalise(e) for e in captured]
    assert normalise(shipping)["bizTransactions"] == [("desadv", "DA-77"), ("po", "PO-77")]
    assert normalise(shipping)["destinationLocations"] == [STORE]

    height = c.manufacturer.w3.eth.block_number
    back = _accepted(partner, "manufacturer", doc(*events))
    assert {e["state"] for e in back["events"]} == {"already_recorded"}, back
    assert c.manufacturer.w3.eth.block_number == height
