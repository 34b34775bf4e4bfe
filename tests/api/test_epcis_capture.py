"""EPCIS capture under hostile or unlucky input: bounded documents, bad codes and sensor
values refused with a code before anything is applied, all-or-nothing documents, a
truthful answer and capture log when the chain refuses a step that could not be
rehearsed, and the GS1 schema shipped inside the package."""

from __future__ import annotations

import fnmatch
import json
import math
import tomllib
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak

from medledger.api.epcis.document import MAX_BYTES, MAX_DEPTH, MAX_EVENTS
from medledger.api.epcis.schema import MAX_ERRORS, SCHEMA_RESOURCE
from medledger.api.epcis.sensors import temperature_range
from medledger.api.epcis.store import capture_store
from medledger.sdk.gs1 import item_id, unit_path
from medledger.sdk.model import ItemStatus
from tests.api import partner_env
from tests.api.conftest import ApiEnv
from tests.api.epcis_docs import dl, doc, event, party, post_as
from tests.api.partner_env import PartnerEnv

partner = partner_env.partner
YEAR = 365 * 24 * 3600


def _receiving(epcs: list[str], **report: Any) -> dict[str, Any]:
    return event(
        "ObjectEvent",
        action="OBSERVE",
        bizStep="receiving",
        epcList=epcs,
        sensorElementList=[{"sensorReport": [{"type": "gs1:Temperature", **report}]}],
    )


def _ship(api: ApiEnv, serial: str, receiver: str, lot: str | None = None) -> dict[str, Any]:
    address = api.consortium.by_name(receiver).address
    return event(
        "ObjectEvent",
        action="OBSERVE",
        bizStep="shipping",
        epcList=[dl(api, serial, lot)],
        destinationList=[{"type": "owning_party", "destination": party(api, address)}],
    )


def _raw_post(partner: PartnerEnv, member: str, body: bytes) -> Any:
    headers = partner.login(partner.api.consortium.by_name(member))
    headers["Content-Type"] = "application/json"
    return partner.api.client.post(
        "/v1/epcis/capture", content=body, headers=headers, params={"sync": "true"}
    )


# ------------------------------------------------------------------ sensor values


@pytest.mark.parametrize(
    ("report", "code", "field"),
    [
        ({"value": 1e308}, "epcis_sensor_value_out_of_range", "value"),
        ({"minValue": 2.0, "maxValue": 4000}, "epcis_sensor_value_out_of_range", "maxValue"),
        ({"minValue": -5000, "maxValue": 8.0}, "epcis_sensor_value_out_of_range", "minValue"),
        ({"value": math.nan}, "epcis_sensor_value_not_finite", "value"),
        ({"value": 2000, "uom": "KEL"}, "epcis_sensor_value_out_of_range", "value"),
        ({"value": 5.0, "uom": "XYZ"}, "epcis_sensor_unit_unknown", "uom"),
        ({"value": 5.0, "sDev": -1}, "epcis_sensor_value_out_of_range", "sDev"),
    ],
)
def test_a_sensor_value_outside_its_range_is_a_422_naming_the_field(
    api: ApiEnv, partner: PartnerEnv, report: dict[str, Any], code: str, field: str
) -> None:
    body = json.dumps(doc(_receiving([dl(api, "S1")], **report))).encode()  # NaN as JSON NaN
    r = _raw_post(partner, "distributor", body)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == code
    assert problem["event_index"] == 0
    assert problem["field"].endswith(f"eventList[0].sensorElementList[0].sensorReport[0].{field}")


def test_an_infinite_sensor_literal_is_refused_as_not_finite(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    body = json.dumps(doc(_receiving([dl(api, "S1")], value=0.5))).replace("0.5", "1e999")
    r = _raw_post(partner, "distributor", body.encode())
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "epcis_sensor_value_not_finite"


def test_temperatures_are_read_in_celsius_from_any_accepted_unit() -> None:
    assert temperature_range(_receiving([], minValue=41, maxValue=46.4, uom="FAH")) == (50, 80)
    assert temperature_range(_receiving([], value=278.15, uom="KEL")) == (50, 50)
    assert temperature_range(_receiving([], minValue=-273.15, maxValue=1000)) == (-2732, 10000)
    humid = event("ObjectEvent", sensorElementList=[{"sensorReport": [{"type": "Humidity"}]}])
    assert temperature_range(humid) is None


# ------------------------------------------------------------------ bad codes


def test_a_code_urllib_cannot_split_is_a_4xx_in_capture_and_query(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    capture = doc(
        event("ObjectEvent", action="OBSERVE", bizStep="shipping", epcList=["http://x]/"])
    )
    r = post_as(partner, "manufacturer", capture)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "epcis_unsupported_event"
    assert r.json()["gs1_reason"] == "malformed"
    headers = partner.login(api.consortium.manufacturer)
    r = api.client.get("/v1/epcis/events", params={"MATCH_epc": "http://x]/"}, headers=headers)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "malformed"


# ------------------------------------------------------------------ bounds


def test_a_document_of_bad_events_lists_only_the_first_errors(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    bad = event("ObjectEvent", action="SHIP", eventTime="yesterday", epcList=[1, 2, 3])
    r = post_as(partner, "manufacturer", doc(*[bad] * MAX_EVENTS))
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "epcis_schema_invalid"
    assert len(r.json()["errors"]) == MAX_ERRORS
    assert f"the first {MAX_ERRORS}" in r.json()["detail"]


def test_documents_past_the_bounds_are_refused_before_validation(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    many = doc(*[event("ObjectEvent", action="OBSERVE")] * (MAX_EVENTS + 1))
    r = post_as(partner, "manufacturer", many)
    assert (r.status_code, r.json()["code"]) == (413, "epcis_too_many_events")
    huge = json.dumps(doc(event("ObjectEvent", padding="x" * MAX_BYTES))).encode()
    r = _raw_post(partner, "manufacturer", huge)
    assert (r.status_code, r.json()["code"]) == (413, "body_too_large")
    deep = b'{"type": "EPCISDocument", "x": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}"
    r = _raw_post(partner, "manufacturer", deep)
    assert (r.status_code, r.json()["code"]) == (400, "json_too_deep")
    r = _raw_post(partner, "manufacturer", b'{"type": ')
    assert (r.status_code, r.json()["code"]) == (400, "invalid_json")


def test_the_body_is_not_judged_before_the_partner_is(api: ApiEnv) -> None:
    r = api.client.post("/v1/epcis/capture", content=b"[" * 10_000)
    assert r.status_code == 401 and r.json()["code"] == "authentication_required"


# ------------------------------------------------------------------ all or nothing


def test_a_document_whose_second_event_is_refused_applies_nothing(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    c = api.consortium
    now = api.chain.now()
    recalled = c.manufacturer.register_lot(
        c.gtin, "RC1", production_date=now - 3600, expiry=now + YEAR
    ).value
    c.manufacturer.commission(c.lot_key, ["A1"])
    c.manufacturer.commission(recalled, ["B1"])
    c.regulator.recall_lot(recalled, level=1, reason_hash=keccak(text="recall"))
    block = api.chain.w3.eth.block_number
    both = doc(_ship(api, "A1", "distributor"), _ship(api, "B1", "distributor"))
    r = post_as(partner, "manufacturer", both)
    assert r.status_code == 409, r.text
    assert r.json()["code"].startswith("ItemsRecalled")
    assert r.json()["event_index"] == 1 and r.json()["applied"] == []
    a1 = c.manufacturer.item(item_id(unit_path(c.gtin, "A1")))
    assert a1.holder == c.manufacturer.address and a1.status is ItemStatus.ACTIVE
    assert api.chain.w3.eth.block_number == block
    # Nothing was logged either: the first event alone is captured, not a duplicate.
    r = post_as(partner, "manufacturer", doc(_ship(api, "A1", "distributor")))
    assert r.status_code == 200 and r.json()["captured"] == 1, r.text


def test_a_rehearsed_refusal_names_no_other_members_holdings(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    c = api.consortium
    (unit,) = c.manufacturer.commission(c.lot_key, ["H1"]).value
    c.distributor.receive(
        c.manufacturer.ship(c.distributor.address, [unit]).value, temp_min=50, temp_max=80
    )
    r = post_as(partner, "hospital", doc(_ship(api, "H1", "hospital2")))
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "ItemsNotHolder" and r.json()["applied"] == []
    assert c.distributor.address.lower() not in r.text.lower()


def test_a_refusal_after_steps_that_could_not_be_rehearsed_says_what_was_applied(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    c = api.consortium
    commission = event(
        "ObjectEvent", action="ADD", bizStep="commissioning", epcList=[dl(api, "P1", c.lot)]
    )
    to_self = _ship(api, "P1", "manufacturer")  # P1 does not exist yet: not rehearsable
    r = post_as(partner, "manufacturer", doc(commission, to_self))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "ItemsSelfShipment" and problem["event_index"] == 1
    (applied,) = problem["applied"]
    assert applied["index"] == 0 and applied["complete"] is True
    assert applied["operations"] == [f"commission 1 into {c.lot}"]
    p1 = item_id(unit_path(c.gtin, "P1"))
    assert c.manufacturer.item(p1).status is ItemStatus.ACTIVE
    store = capture_store(api.services)
    logged = store.states([applied["event_hash"]])[applied["event_hash"]]
    assert logged.captured and list(logged.tx_hashes) == applied["tx_hashes"]
    # Posted again, the commissioning is a duplicate and the shipment refused at rehearsal.
    again = post_as(partner, "manufacturer", doc(commission, to_self))
    assert again.status_code == 422 and again.json()["applied"] == []


def test_an_event_refused_half_way_is_logged_as_partial_and_finished_when_posted_again(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    c = api.consortium
    sscc = "urn:epc:id:sscc:9506000.1000000043"
    packing = event(
        "AggregationEvent",
        action="ADD",
        bizStep="packing",
        parentID=sscc,
        childEPCs=[dl(api, "Q1")],  # not commissioned yet
    )
    r = post_as(partner, "manufacturer", doc(packing))
    assert r.status_code in (409, 422), r.text
    (applied,) = r.json()["applied"]
    assert applied["complete"] is False and applied["operations"][0].startswith("createContainer")
    store = capture_store(api.services)
    assert store.states([applied["event_hash"]])[applied["event_hash"]].state == "partial"
    c.manufacturer.commission(c.lot_key, ["Q1"])
    r = post_as(partner, "manufacturer", doc(packing))
    assert r.status_code == 200, r.text
    assert r.json()["events"][0]["operations"] == ["pack 1 into 195060000000000432"]
    logged = store.states([applied["event_hash"]])[applied["event_hash"]]
    assert logged.captured and len(logged.tx_hashes) == 2
    q1 = c.manufacturer.item(item_id(unit_path(c.gtin, "Q1")))
    assert q1.parent_id == item_id("/00/195060000000000432")


def test_a_document_being_captured_elsewhere_is_refused_without_applying(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    from medledger.api.epcis.capture import event_hash

    c = api.consortium
    c.manufacturer.commission(c.lot_key, ["W1"])
    first, second = _ship(api, "W1", "distributor"), _ship(api, "W1", "hospital")
    store = capture_store(api.services)
    assert store.claim_all([event_hash(second)], c.manufacturer.address) == set()
    r = post_as(partner, "manufacturer", doc(first, second))
    assert r.status_code == 409 and r.json()["code"] == "epcis_capture_in_progress", r.text
    assert r.json()["event_indexes"] == [1]
    w1 = c.manufacturer.item(item_id(unit_path(c.gtin, "W1")))
    assert w1.status is ItemStatus.ACTIVE


def test_an_event_repeated_in_one_document_is_applied_once(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    c = api.consortium
    c.manufacturer.commission(c.lot_key, ["D1"])
    ship = _ship(api, "D1", "distributor")
    r = post_as(partner, "manufacturer", doc(ship, ship))
    assert r.status_code == 200, r.text
    assert [e["status"] for e in r.json()["events"]] == ["captured", "duplicate"]
    assert r.json()["events"][1]["tx_hashes"] == r.json()["events"][0]["tx_hashes"]


# ------------------------------------------------------------------ the schema ships inside


def test_the_gs1_schema_is_package_data_of_the_api() -> None:
    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["medledger.api.epcis"]
    assert any(fnmatch.fnmatch(SCHEMA_RESOURCE, g) for g in globs)
    schema = root / "api" / "epcis" / SCHEMA_RESOURCE
    assert json.loads(schema.read_text())["$id"].endswith("EPCIS-JSON-Schema.json")
    assert "GS1\nIP Policy" in (schema.parent / "README.md").read_text()


def _packing_left_by_a_dead_capture(
    api: ApiEnv, partner: PartnerEnv, serial: str, sscc_uri: str
) -> tuple[dict[str, Any], str, str]:
    """A packing into a new container whose capture claimed it, created the container,
    logged that it was sending the pack and died: its claim stays pending until it expires
    (here at once, once the test has seen it refuse another capture)."""
    from medledger.api.epcis.capture import event_hash
    from medledger.api.epcis.identifiers import parse_epc

    c = api.consortium
    c.manufacturer.commission(c.lot_key, [serial])
    packing = event(
        "AggregationEvent",
        action="ADD",
        bizStep="packing",
        parentID=sscc_uri,
        childEPCs=[dl(api, serial)],
    )
    digest, sscc = event_hash(packing), str(parse_epc(sscc_uri).sscc)
    store = capture_store(api.services)
    assert store.claim_all([digest], c.manufacturer.address) == set()
    created = c.manufacturer.create_container(sscc, company_prefix=c.prefix)
    created_hash = "0x" + bytes(created.receipt["transactionHash"]).hex()
    store.applied(digest, f"createContainer {sscc}", created_hash)
    w3, me = c.manufacturer.w3, c.manufacturer.account.address
    nonce, block = w3.eth.get_transaction_count(me, "pending"), w3.eth.block_number
    store.sending(digest, f"pack 1 into {sscc}", nonce=nonce, block=block)
    r = post_as(partner, "manufacturer", doc(packing))
    assert r.status_code == 409 and r.json()["code"] == "epcis_capture_in_progress", r.text
    store.claim_expires_after = 0
    return packing, digest, sscc


def _logged_packed(api: ApiEnv, digest: str, sscc: str, serial: str) -> tuple[str, ...]:
    """Assert the event is logged captured, both operations, and the unit packed; the
    logged transaction hashes."""
    c = api.consortium
    logged = capture_store(api.services).states([digest])[digest]
    assert logged.captured
    assert logged.operations == (f"createContainer {sscc}", f"pack 1 into {sscc}")
    unit = c.manufacturer.item(item_id(unit_path(c.gtin, serial)))
    assert unit.parent_id == item_id(f"/00/{sscc}")
    return logged.tx_hashes


def test_an_expired_capture_whose_transaction_was_mined_is_finished_without_resending_it(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    c = api.consortium
    sscc_uri = "urn:epc:id:sscc:9506000.1000000051"
    packing, digest, sscc = _packing_left_by_a_dead_capture(api, partner, "K1", sscc_uri)
    k1 = item_id(unit_path(c.gtin, "K1"))
    mined = c.manufacturer.pack(item_id(f"/00/{sscc}"), [k1])  # what the dead capture sent
    r = post_as(partner, "manufacturer", doc(packing))
    assert r.status_code == 200, r.text  # not sent again (the ledger would refuse it)
    assert r.json()["events"][0]["operations"] == []
    tx_hashes = _logged_packed(api, digest, sscc, "K1")
    assert tx_hashes[1] == "0x" + bytes(mined.receipt["transactionHash"]).hex()


def test_an_expired_capture_that_never_sent_its_operation_is_finished_from_there(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    c = api.consortium
    sscc_uri = "urn:epc:id:sscc:9506000.1000000062"
    packing, digest, sscc = _packing_left_by_a_dead_capture(api, partner, "K2", sscc_uri)
    c.manufacturer.commission(c.lot_key, ["K3"])  # another operation took the logged nonce
    r = post_as(partner, "manufacturer", doc(packing))
    assert r.status_code == 200, r.text
    assert r.json()["events"][0]["operations"] == [f"pack 1 into {sscc}"]
    _logged_packed(api, digest, sscc, "K2")
