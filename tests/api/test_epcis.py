from __future__ import annotations

import json
from typing import Any
from unittest.mock import ANY

import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient
from jsonschema import Draft7Validator

from medledger.api.epcis.schema import schema_text
from medledger.ops.demo.consortium import DEMO_PREFIX, DISTRIBUTOR_PREFIX
from medledger.sdk.dates import day_of
from medledger.sdk.gs1 import item_id, lot_key, make_gln, unit_path
from medledger.sdk.model import ItemStatus
from tests.api import partner_env
from tests.api.conftest import ApiEnv
from tests.api.epcis_docs import EXAMPLES, SSCC_URN, dl, doc, event, example, party, post_as
from tests.api.partner_env import PartnerEnv
from tests.api.regulator_mode import AUTH, regulator_client

partner = partner_env.partner


@pytest.fixture(scope="module")
def schema_validator() -> Draft7Validator:
    return Draft7Validator(json.loads(schema_text()))


def _outbound(api: ApiEnv) -> dict[str, Any]:
    """GS1 example 9.6.1 and 9.6.3, adapted: commission three units of the demo lot, pack
    two (as SGTIN URNs) into a new SSCC, ship the case and the third unit."""
    c = api.consortium
    shipping = example("Example_9.6.1-ObjectEvent.jsonld")["epcisBody"]["eventList"][0]
    shipping.pop("readPoint")  # GS1's location, not one of the manufacturer's GLNs
    shipping.update(
        epcList=[SSCC_URN, dl(api, "E3")],
        eventTime="2026-01-05T11:00:00.000Z",
        destinationList=[
            {"type": "owning_party", "destination": party(api, c.distributor.address)}
        ],
    )
    packing = example("Example_9.6.3-AggregationEvent.jsonld")["epcisBody"]["eventList"][0]
    packing.update(
        parentID=SSCC_URN,
        childEPCs=["urn:epc:id:sgtin:9506000.013435.E1", "urn:epc:id:sgtin:9506000.013435.E2"],
        action="ADD",
        bizStep="packing",
        disposition="in_progress",
    )
    packing.pop("childQuantityList")
    packing.pop("readPoint"), packing.pop("bizLocation")  # GS1's, not the manufacturer's
    commissioning = event(
        "ObjectEvent",
        action="ADD",
        bizStep="commissioning",
        disposition="active",
        epcList=[dl(api, "E1"), dl(api, "E2"), dl(api, "E3", c.lot)],
        ilmd={"cbvmda:lotNumber": c.lot},
    )
    return doc(commissioning, packing, shipping)


def _inbound(api: ApiEnv) -> dict[str, Any]:
    """The distributor accepts the case (at 5.0-8.0 C) and rejects the loose unit."""
    return doc(
        event(
            "ObjectEvent",
            action="OBSERVE",
            bizStep="receiving",
            disposition="active",
            epcList=[SSCC_URN],
            sensorElementList=[
                {
                    "sensorReport": [
                        {"type": "gs1:Temperature", "minValue": 5.0, "maxValue": 8.0, "uom": "CEL"}
                    ]
                }
            ],
        )
    )


def test_gs1_examples_are_valid_against_the_schema(schema_validator: Draft7Validator) -> None:
    names = sorted(p.name for p in EXAMPLES.glob("Example_*.jsonld"))
    assert len(names) == 3
    for name in names:
        assert not list(schema_validator.iter_errors(example(name))), name


def test_an_erp_document_is_captured_as_signed_ledger_operations(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    c = api.consortium
    out = post_as(partner, "manufacturer", _outbound(api))
    assert out.status_code == 200, out.text
    body = out.json()
    assert body["captured"] == 3 and body["duplicates"] == 0
    assert [len(e["tx_hashes"]) for e in body["events"]] == [1, 2, 1]  # create + pack
    api.sync()
    received = post_as(partner, "distributor", _inbound(api))
    assert received.status_code == 200, received.text
    e1 = item_id(unit_path(c.gtin, "E1"))
    e3 = item_id(unit_path(c.gtin, "E3"))
    assert c.distributor.item(e1).holder == c.distributor.address
    assert c.distributor.item(e3).holder == c.manufacturer.address  # rejected: not listed
    assert c.distributor.item(e3).status is ItemStatus.ACTIVE


def test_capturing_a_document_twice_applies_it_once(api: ApiEnv, partner: PartnerEnv) -> None:
    first = post_as(partner, "manufacturer", _outbound(api))
    assert first.status_code == 200
    block = api.chain.w3.eth.block_number
    again = post_as(partner, "manufacturer", _outbound(api))
    assert again.status_code == 200, again.text
    assert again.json()["duplicates"] == 3 and again.json()["captured"] == 0
    assert [e["tx_hashes"] for e in again.json()["events"]] == [
        e["tx_hashes"] for e in first.json()["events"]
    ]
    assert api.chain.w3.eth.block_number == block


def test_an_invalid_document_is_a_400_listing_the_schema_errors(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    bad = doc(event("ObjectEvent", action="SHIP", epcList=[dl(api, "X1")]))
    del bad["@context"]
    r = post_as(partner, "manufacturer", bad)
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "epcis_schema_invalid"
    messages = " ".join(e["message"] for e in body["errors"])
    assert "@context" in messages and "SHIP" in messages


def test_a_document_breaking_a_ledger_rule_is_refused_naming_the_rule(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    c = api.consortium
    commission = event(
        "ObjectEvent", action="ADD", bizStep="commissioning", epcList=[dl(api, "R1", c.lot)]
    )
    # The distributor cannot commission units under the manufacturer's GTIN.
    r = post_as(partner, "distributor", doc(commission))
    assert r.status_code in (409, 422), r.text
    assert r.json()["code"].startswith("Items") and r.json()["event_index"] == 0
    # Refused events are not remembered: the rightful owner can still capture it.
    assert post_as(partner, "manufacturer", doc(commission)).json()["captured"] == 1


def test_events_the_ledger_cannot_express_are_a_422_before_anything_applies(
    api: ApiEnv,
    partner: PartnerEnv,
) -> None:
    c = api.consortium
    commission = event(
        "ObjectEvent", action="ADD", bizStep="commissioning", epcList=[dl(api, "U1", c.lot)]
    )
    raw_aggregation = example("Example_9.6.3-AggregationEvent.jsonld")["epcisBody"]["eventList"]
    r = post_as(partner, "manufacturer", doc(commission, *raw_aggregation))
    assert r.status_code == 422
    assert r.json()["code"] == "epcis_unsupported_event" and r.json()["event_index"] == 1
    assert c.manufacturer.item(item_id(unit_path(c.gtin, "U1"))).status is ItemStatus.NONE


def test_capture_needs_a_signed_in_partner_with_a_custodial_key(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    assert api.client.post("/v1/epcis/capture", json=_outbound(api)).status_code == 401
    r = post_as(partner, "logistics", _outbound(api))  # signed in, but no custodial key
    assert r.status_code == 400 and r.json()["code"] == "signature_required"


def test_a_partner_queries_events_of_items_it_has_held_by_epc(
    api: ApiEnv, partner: PartnerEnv, schema_validator: Draft7Validator
) -> None:
    c = api.consortium
    assert post_as(partner, "manufacturer", _outbound(api)).status_code == 200
    api.sync()
    epc = "urn:epc:id:sgtin:9506000.013435.E1"
    maker = partner.login(c.manufacturer)
    r = api.client.get("/v1/epcis/events", params={"MATCH_epc": epc}, headers=maker)
    assert r.status_code == 200, r.text
    assert not list(schema_validator.iter_errors(r.json()))
    assert len(r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == 3
    stranger = partner.login(c.hospital)
    r = api.client.get("/v1/epcis/events", params={"MATCH_epc": epc}, headers=stranger)
    assert r.status_code == 404
    # One EPC the partner never held refuses the whole query, whatever the others are.
    others = {"MATCH_epc": [epc, "urn:epc:id:sgtin:9506000.013435.NEVER"]}
    assert api.client.get("/v1/epcis/events", params=others, headers=maker).status_code == 404
    r = api.client.get("/v1/epcis/events", headers=maker)
    assert r.status_code == 403 and r.json()["code"] == "epc_required"


def _export(client: TestClient, **params: Any) -> dict[str, Any]:
    r = client.get("/v1/epcis/events", params=params, headers=AUTH)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def test_the_export_round_trips_captured_events_and_is_valid_epcis(
    api: ApiEnv, partner: PartnerEnv, schema_validator: Draft7Validator
) -> None:
    assert post_as(partner, "manufacturer", _outbound(api)).status_code == 200
    api.sync()
    assert post_as(partner, "distributor", _inbound(api)).status_code == 200
    api.sync()
    reg = regulator_client(api)
    exported = _export(reg)
    assert not list(schema_validator.iter_errors(exported))
    assert exported["type"] == "EPCISQueryDocument"
    events = exported["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    steps = [(e["type"], e["bizStep"]) for e in events]
    assert steps == [
        ("ObjectEvent", "commissioning"),
        ("ObjectEvent", "commissioning"),  # the SSCC
        ("AggregationEvent", "packing"),
        ("ObjectEvent", "shipping"),
        ("ObjectEvent", "receiving"),
        ("ObjectEvent", "inspecting"),  # the rejected unit
    ]
    packing = events[2]
    assert packing["parentID"].endswith("/00/195060000000000425")
    assert sorted(p.rsplit("/", 1)[-1] for p in packing["childEPCs"]) == ["E1", "E2"]
    assert events[3]["destinationList"][0]["destination"] == party(
        api, api.consortium.distributor.address
    )
    lot = api.consortium.manufacturer.lot(lot_key(api.consortium.gtin, api.consortium.lot))
    assert events[0]["ilmd"] == {
        "cbvmda:lotNumber": api.consortium.lot,
        "cbvmda:itemExpirationDate": day_of(lot.expiry).isoformat(),
        "medledger:productionDate": day_of(lot.production_date).isoformat(),
    }
    receiver = party(api, api.consortium.distributor.address)
    assert events[4]["destinationList"] == [
        {"type": "owning_party", "destination": receiver},
        {"type": "possessing_party", "destination": receiver},
    ]
    assert events[4]["sensorElementList"] == [
        {"sensorReport": [{"type": "Temperature", "minValue": 5.0, "maxValue": 8.0, "uom": "CEL"}]}
    ]
    assert "readPoint" not in events[0]  # no GLN yet


def test_exported_events_name_the_acting_members_gln_as_sgln(
    api: ApiEnv, partner: PartnerEnv, schema_validator: Draft7Validator
) -> None:
    c = api.consortium
    maker_gln = make_gln(company_prefix=DEMO_PREFIX, location_reference=1)
    depot = make_gln(company_prefix=DISTRIBUTOR_PREFIX, location_reference=9)
    c.regulator.set_primary_gln(c.manufacturer.address, maker_gln)
    c.regulator.set_primary_gln(c.distributor.address, depot)
    assert post_as(partner, "manufacturer", _outbound(api)).status_code == 200
    api.sync()
    assert post_as(partner, "distributor", _inbound(api)).status_code == 200
    api.sync()
    exported = _export(regulator_client(api))
    assert not list(schema_validator.iter_errors(exported))
    events = exported["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    maker = f"urn:epc:id:sgln:{DEMO_PREFIX}.{maker_gln[7:12]}.0"
    distributor = f"urn:epc:id:sgln:{DISTRIBUTOR_PREFIX}.{depot[7:12]}.0"
    where = [(e["bizStep"], e["readPoint"]["id"], e["bizLocation"]["id"]) for e in events]
    assert where == [
        ("commissioning", maker, maker),
        ("commissioning", maker, maker),
        ("packing", maker, maker),
        ("shipping", maker, maker),
        ("receiving", distributor, distributor),
        ("inspecting", distributor, distributor),
    ]


def test_the_export_filters_by_epc_bizstep_disposition_and_time(
    api: ApiEnv, partner: PartnerEnv, schema_validator: Draft7Validator
) -> None:
    c = api.consortium
    assert post_as(partner, "manufacturer", _outbound(api)).status_code == 200
    api.sync()
    reg = regulator_client(api)
    by_epc = _export(reg, MATCH_epc="urn:epc:id:sgtin:9506000.013435.E1")
    steps = [e["bizStep"] for e in by_epc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]
    assert steps == ["commissioning", "packing", "shipping"]
    shipping = _export(reg, EQ_bizStep="shipping")
    (event,) = shipping["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert sorted(event["epcList"]) == sorted(
        [
            f"{api.services.settings.public_base_url}/00/195060000000000425",
            f"{api.services.settings.public_base_url}{unit_path(c.gtin, 'E3')}",
        ]
    )
    in_transit = _export(reg, EQ_disposition="in_transit")
    assert len(in_transit["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == 1
    future = _export(reg, GE_eventTime="2999-01-01T00:00:00Z")
    assert future["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []
    assert not list(schema_validator.iter_errors(by_epc))


def _steps_of(doc: dict[str, Any]) -> list[str]:
    return [e["bizStep"] for e in doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]


def test_the_export_matches_any_of_several_epcs_bizsteps_and_dispositions(
    api: ApiEnv, partner: PartnerEnv, schema_validator: Draft7Validator
) -> None:
    assert post_as(partner, "manufacturer", _outbound(api)).status_code == 200
    api.sync()
    reg = regulator_client(api)
    e1, e3 = "urn:epc:id:sgtin:9506000.013435.E1", dl(api, "E3")
    # The case's own commissioning joins E3's events; shared events come once each.
    union = _export(reg, MATCH_epc=[SSCC_URN, e3])
    assert not list(schema_validator.iter_errors(union))
    assert _steps_of(union) == ["commissioning", "commissioning", "packing", "shipping"]
    repeated = _export(reg, MATCH_epc=[e1, e3])
    assert _steps_of(repeated) == ["commissioning", "packing", "shipping"]
    assert _export(reg, MATCH_epc=f"{e1}|{e3}") == {**repeated, "creationDate": ANY}
    two_steps = _export(reg, EQ_bizStep="packing|shipping", MATCH_epc=e3)
    assert _steps_of(two_steps) == ["shipping"]
    both = _export(reg, EQ_bizStep=["packing", "https://ref.gs1.org/cbv/BizStep-shipping"])
    assert _steps_of(both) == ["packing", "shipping"]
    moving = _export(reg, EQ_disposition=["in_transit", "active"], EQ_bizStep="shipping")
    assert _steps_of(moving) == ["shipping"]
    assert not list(schema_validator.iter_errors(both))


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"MATCH_epc": "|"}, "empty_value"),
        ({"EQ_bizStep": "|".join(["shipping"] * 51)}, "too_many_values"),
        ({"MATCH_epc": "urn:epc:id:sgtin:" + "9" * 300}, "value_too_long"),
        ({"GE_eventTime": "2026-13-45T00:00:00Z"}, "bad_time"),
    ],
)
def test_bad_query_values_are_refused_naming_the_problem(
    api: ApiEnv, params: dict[str, str], code: str
) -> None:
    r = regulator_client(api).get("/v1/epcis/events", params=params, headers=AUTH)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code


def test_event_times_must_be_rfc3339_not_numbers(api: ApiEnv) -> None:
    reg = regulator_client(api)
    for bad in ("-5.96e-08", "1780000000", "2026-01-01"):
        r = reg.get("/v1/epcis/events", params={"LT_eventTime": bad}, headers=AUTH)
        assert r.status_code == 422, bad


def test_the_export_pages_with_a_next_page_link(api: ApiEnv, partner: PartnerEnv) -> None:
    assert post_as(partner, "manufacturer", _outbound(api)).status_code == 200
    api.sync()
    reg = regulator_client(api)
    seen: list[str] = []
    r = reg.get("/v1/epcis/events", params={"perPage": 2}, headers=AUTH)
    while True:
        assert r.status_code == 200
        events = r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        assert len(events) <= 2
        seen += [e["eventID"] for e in events]
        link = r.headers.get("Link")
        if link is None:
            break
        r = reg.get(link[1 : link.index(">")], headers=AUTH)
    assert len(seen) == len(set(seen)) == 4
    assert reg.get("/v1/epcis/events", params={"perPage": 201}, headers=AUTH).status_code == 422


def test_moves_of_a_recalled_lot_are_exported_with_disposition_recalled(
    api: ApiEnv, schema_validator: Draft7Validator
) -> None:
    c = api.consortium
    units = c.manufacturer.commission(c.lot_key, ["K1", "K2"]).value
    outbound = c.manufacturer.ship(c.distributor.address, units).value
    c.distributor.receive(outbound, temp_min=50, temp_max=80)
    c.regulator.recall_lot(c.lot_key, level=1, reason_hash=keccak(text="recall"))
    back = c.distributor.ship(c.manufacturer.address, units).value
    c.manufacturer.receive(back, temp_min=50, temp_max=80)
    api.sync()
    exported = _export(regulator_client(api), EQ_disposition="recalled")
    assert not list(schema_validator.iter_errors(exported))
    events = exported["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [(e["bizStep"], e["medledger:shipmentId"]) for e in events] == [("receiving", back)]
    active = _export(regulator_client(api), EQ_disposition="active", EQ_bizStep="receiving")
    (before,) = active["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert before["medledger:shipmentId"] == outbound


def test_unpacking_decommissioning_and_dispensing_are_captured(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    c = api.consortium
    outbound = _outbound(api)
    events = outbound["epcisBody"]["eventList"]
    unpack = event("AggregationEvent", action="DELETE", bizStep="unpacking", parentID=SSCC_URN)
    destroy = event(
        "ObjectEvent", action="DELETE", bizStep="decommissioning", epcList=[dl(api, "E2")]
    )
    ship = dict(events[2], epcList=[dl(api, "E1")])
    ship["destinationList"] = [
        {"type": "possessing_party", "destination": party(api, c.hospital.address)}
    ]
    r = post_as(partner, "manufacturer", doc(events[0], events[1], unpack, destroy, ship))
    assert r.status_code == 200, r.text
    assert [e["operations"][-1].split()[0] for e in r.json()["events"]] == [
        "commission",
        "pack",
        "unpack",
        "destroy",
        "ship",
    ]
    api.sync()
    e1_uri = [dl(api, "E1")]
    receive = event("ObjectEvent", action="OBSERVE", bizStep="receiving", epcList=e1_uri)
    dispense = event("ObjectEvent", action="OBSERVE", bizStep="dispensing", epcList=e1_uri)
    r = post_as(partner, "hospital", doc(receive, dispense))
    assert r.status_code == 200, r.text
    e1, e2 = (item_id(unit_path(c.gtin, s)) for s in ("E1", "E2"))
    assert c.hospital.item(e1).status is ItemStatus.DISPENSED
    assert c.hospital.item(e1).holder == c.hospital.address
    assert c.hospital.item(e2).status is ItemStatus.DESTROYED


def test_a_claimed_event_hash_is_refused_until_released(api: ApiEnv) -> None:
    from medledger.api.epcis.store import capture_store

    store = capture_store(api.services)
    a, b = "0x" + "1" * 40, "0x" + "2" * 40
    assert store.claim_all(["ni:///sha-256;ab"], a) == set()
    assert store.claim_all(["ni:///sha-256;cd", "ni:///sha-256;ab"], b) == {"ni:///sha-256;ab"}
    assert store.states(["ni:///sha-256;cd"]) == {}  # all or none: cd was not claimed
    store.release("ni:///sha-256;ab")
    assert store.claim_all(["ni:///sha-256;ab"], b) == set()
    store.engine.dispose()
