"""EPCIS export of custody by quantity: a lot's commissioning, shipment and receipt (with a
rejected part) come out of `GET /v1/epcis/events?MATCH_epcClass=` as ObjectEvents with
`quantityList` entries in lgtin EPC classes (TDS escaping of the lot), commissioning with
ilmd (lot, expiry, the product's public master data), valid against GS1's schema; cases are
named by their package GTIN; a partner sees only lots it made or held."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft7Validator

from medledger.api.epcis.identifiers import lgtin_urn, parse_epc_class, unit_uri
from medledger.api.epcis.schema import schema_text
from medledger.ops.demo.consortium import YEAR
from medledger.sdk.dates import day_of
from medledger.sdk.messages import LotQuantity
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv
from tests.api.regulator_mode import AUTH, regulator_client
from tests.api.test_master_data import record

partner = partner_env.partner
LOT = "G/26%A"  # '/' and '%' are escaped in an EPC URN


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    return Draft7Validator(json.loads(schema_text()))


def _events(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["epcisBody"]["queryResults"]["resultsBody"][
        "eventList"
    ]
    return events


def test_a_lot_shipment_exports_its_quantities_as_valid_epcis(
    partner: PartnerEnv, validator: Draft7Validator
) -> None:
    api = partner.api
    c = api.consortium
    body = record(c.prefix)
    gtin, box = body["gtin"], body["packages"][0]["gtin"]
    maker = partner.login(c.manufacturer)
    put = api.client.put(f"/v1/partner/products/{gtin}/master", json=body, headers=maker)
    assert put.status_code == 200, put.text
    m, d = c.manufacturer, c.distributor
    now = api.chain.now()
    key = m.register_lot(gtin, LOT, production_date=now - 86400, expiry=now + YEAR).value
    m.commission_lot(key, 1000)
    (case,) = m.pack_cases(box, LOT, ["C1"]).value
    shipment = m.ship(d.address, [case], lots=[LotQuantity(key, 300)]).value
    d.receive(shipment, temp_min=50, temp_max=80, rejected_lots=[LotQuantity(key, 20)])
    d.destroy_lots([LotQuantity(key, 5)])
    api.sync()

    lgtin = lgtin_urn(gtin, LOT, company_prefix_length=len(c.prefix))
    assert lgtin.endswith(".G%2F26%25A") and parse_epc_class(lgtin) == (gtin, LOT)
    reg = regulator_client(api)
    r = reg.get("/v1/epcis/events", params={"MATCH_epcClass": lgtin}, headers=AUTH)
    events = _events(r)
    assert not list(validator.iter_errors(r.json()))
    summary = [
        (
            e["bizStep"],
            e["disposition"],
            [(q["epcClass"], q["quantity"], q["uom"]) for q in e["quantityList"]],
        )
        for e in events
    ]
    assert summary == [
        ("commissioning", "active", [(lgtin, 1000, "EA")]),
        ("shipping", "in_transit", [(lgtin, 300, "EA")]),
        ("receiving", "active", [(lgtin, 280, "EA")]),
        ("inspecting", "returned", [(lgtin, 20, "EA")]),
        ("destroying", "destroyed", [(lgtin, 5, "EA")]),
    ]
    assert events[-1]["action"] == "DELETE" and events[-1]["medledger:holder"].endswith(d.address)
    commissioning, shipping = events[0], events[1]
    assert commissioning["ilmd"] == {
        "cbvmda:lotNumber": LOT,
        "cbvmda:itemExpirationDate": day_of(now + YEAR).isoformat(),
        "medledger:productNameZh": body["name_zh"],
        "medledger:productNameEn": body["name_en"],
        "medledger:model": body["model"],
        "medledger:registrationNumber": body["registration_number"],
    }
    assert shipping["sourceList"][0]["source"].endswith(m.address)
    assert shipping["destinationList"][0]["destination"].endswith(d.address)
    assert shipping["medledger:shipmentId"] == shipment

    page = reg.get("/v1/epcis/events", params={"MATCH_epcClass": lgtin, "perPage": 3}, headers=AUTH)
    assert len(_events(page)) == 3 and "nextPageToken=3" in page.headers["link"]
    link = {"MATCH_epcClass": lgtin, "perPage": 3, "nextPageToken": 3}
    assert len(_events(reg.get("/v1/epcis/events", params=link, headers=AUTH))) == 2
    shipped = {"MATCH_epcClass": lgtin, "EQ_bizStep": "shipping|receiving"}
    assert len(_events(reg.get("/v1/epcis/events", params=shipped, headers=AUTH))) == 2

    # The case is an EPC of its package GTIN.
    case_epc = unit_uri(api.services.settings.public_base_url, box, "C1")
    r = reg.get("/v1/epcis/events", params={"MATCH_epc": case_epc}, headers=AUTH)
    assert case_epc in _events(r)[0]["epcList"]

    # A partner that held the lot sees it (by its Digital Link URI too); one that never did, not.
    link_class = f"https://id.example/01/{gtin}/10/G%2F26%25A"
    mine = api.client.get(
        "/v1/epcis/events", params={"MATCH_epcClass": link_class}, headers=partner.login(d)
    )
    assert len(_events(mine)) == 5
    stranger = api.client.get(
        "/v1/epcis/events", params={"MATCH_epcClass": lgtin}, headers=partner.login(c.hospital)
    )
    assert stranger.status_code == 404 and stranger.json()["code"] == "unknown_lot"
    both = api.client.get(
        "/v1/epcis/events", params={"MATCH_epcClass": lgtin, "MATCH_epc": case_epc}, headers=maker
    )
    assert both.status_code == 422 and both.json()["code"] == "epc_and_epc_class"
    serial = api.client.get("/v1/epcis/events", params={"MATCH_epcClass": case_epc}, headers=maker)
    assert serial.status_code == 400 and serial.json()["code"] == "missing_lot"
