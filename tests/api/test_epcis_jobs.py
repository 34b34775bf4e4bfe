"""EPCIS capture as EPCIS 2.0 specifies it: 202 and a persisted capture job to poll, a
per-event report (applied, already recorded, refused, not applied), jobs only their member
sees; GLN locations and parties checked; and the round trip on a real chain: a document
with locations, parties and sensor data captured, exported equal up to normalisation, and
the export captured back changing nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from jsonschema import Draft7Validator

from medledger.api.epcis.jobs import capture_jobs
from medledger.api.epcis.normalise import normalise
from medledger.api.epcis.schema import schema_text
from medledger.ops.demo.consortium import DEMO_PREFIX, DISTRIBUTOR_PREFIX
from medledger.sdk.gs1 import item_id, make_gln, unit_path
from medledger.sdk.model import ItemStatus
from tests.api import partner_env
from tests.api.conftest import ApiEnv
from tests.api.epcis_docs import SSCC_URN, dl, doc, event, example, party
from tests.api.partner_env import PartnerEnv
from tests.api.regulator_mode import AUTH, regulator_client

partner = partner_env.partner
MAKER_GLN = make_gln(company_prefix=DEMO_PREFIX, location_reference=1)
DEPOT_GLN = make_gln(company_prefix=DISTRIBUTOR_PREFIX, location_reference=2)


def _sgln(prefix: str, gln: str) -> str:
    return f"urn:epc:id:sgln:{prefix}.{gln[len(prefix) : 12]}.0"


MAKER = _sgln(DEMO_PREFIX, MAKER_GLN)
DEPOT = _sgln(DISTRIBUTOR_PREFIX, DEPOT_GLN)


@pytest.fixture(scope="module")
def schema_validator() -> Draft7Validator:
    return Draft7Validator(json.loads(schema_text()))


def _post(partner: PartnerEnv, member: str, document: Any) -> Any:
    headers = partner.login(partner.api.consortium.by_name(member))
    return partner.api.client.post("/v1/epcis/capture", json=document, headers=headers)


def _finished(partner: PartnerEnv, member: str, location: str) -> dict[str, Any]:
    headers = partner.login(partner.api.consortium.by_name(member))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        r = partner.api.client.get(location, headers=headers)
        assert r.status_code == 200, r.text
        if not r.json()["running"]:
            job: dict[str, Any] = r.json()
            return job
        time.sleep(0.2)
    raise AssertionError(f"capture job {location} still running")


def _accepted(partner: PartnerEnv, member: str, document: Any) -> dict[str, Any]:
    r = _post(partner, member, document)
    assert r.status_code == 202, r.text
    assert r.headers["Location"] == r.json()["location"]
    assert r.json()["running"] is True and r.json()["state"] == "running"
    return _finished(partner, member, r.headers["Location"])


def _parties(api: ApiEnv, sender: str, receiver: str) -> dict[str, Any]:
    s, r = party(api, sender), party(api, receiver)
    return {
        "sourceList": [
            {"type": "owning_party", "source": s},
            {"type": "possessing_party", "source": s},
        ],
        "destinationList": [
            {"type": "owning_party", "destination": r},
            {"type": "possessing_party", "destination": r},
        ],
    }


def _outbound(api: ApiEnv) -> dict[str, Any]:
    c = api.consortium
    at_maker = {"readPoint": {"id": MAKER}, "bizLocation": {"id": MAKER}}
    return doc(
        event(
            "ObjectEvent",
            action="ADD",
            bizStep="commissioning",
            epcList=[dl(api, "R1"), dl(api, "R2"), dl(api, "R3", c.lot)],
            ilmd={"cbvmda:lotNumber": c.lot},
            **at_maker,
        ),
        event(
            "AggregationEvent",
            action="ADD",
            bizStep="packing",
            parentID=SSCC_URN,
            childEPCs=["urn:epc:id:sgtin:9506000.013435.R1", dl(api, "R2")],
            **at_maker,
        ),
        event(
            "ObjectEvent",
            action="OBSERVE",
            bizStep="shipping",
            epcList=[SSCC_URN, dl(api, "R3")],
            **_parties(api, c.manufacturer.address, c.distributor.address),
            **at_maker,
        ),
    )


def _inbound(api: ApiEnv) -> dict[str, Any]:
    c = api.consortium
    report = {"type": "Temperature", "minValue": 2.5, "maxValue": 7.9, "uom": "CEL"}
    return doc(
        event(
            "ObjectEvent",
            action="OBSERVE",
            bizStep="receiving",
            epcList=[SSCC_URN, dl(api, "R3")],
            readPoint={"id": DEPOT},
            bizLocation={"id": DEPOT},
            sensorElementList=[{"sensorReport": [report]}],
            **_parties(api, c.manufacturer.address, c.distributor.address),
        )
    )


def _events(document: dict[str, Any]) -> list[dict[str, Any]]:
    body = document["epcisBody"]
    found: list[dict[str, Any]] = (
        body["queryResults"]["resultsBody"]["eventList"]
        if "queryResults" in body
        else body["eventList"]
    )
    return found


def _sscc_uri(api: ApiEnv) -> str:
    return f"{api.services.settings.public_base_url}/00/195060000000000425"


def test_capture_jobs_round_trip_units_cases_and_pallets_with_locations_parties_and_sensors(
    api: ApiEnv, partner: PartnerEnv, schema_validator: Draft7Validator
) -> None:
    c = api.consortium
    c.regulator.set_primary_gln(c.manufacturer.address, MAKER_GLN)
    c.regulator.set_primary_gln(c.distributor.address, DEPOT_GLN)
    api.sync()
    outbound, inbound = _outbound(api), _inbound(api)
    job = _accepted(partner, "manufacturer", outbound)
    assert job["success"] is True and job["state"] == "success", job
    assert [e["state"] for e in job["events"]] == ["applied"] * 3
    assert all(e["tx_hashes"] for e in job["events"])
    api.sync()
    job = _accepted(partner, "distributor", inbound)
    assert job["success"] is True, job
    api.sync()
    r3 = c.distributor.item(item_id(unit_path(c.gtin, "R3")))
    assert r3.holder == c.distributor.address and r3.status is ItemStatus.ACTIVE

    exported = regulator_client(api).get("/v1/epcis/events", headers=AUTH).json()
    assert not list(schema_validator.iter_errors(exported))
    # The export adds the SSCC's own commissioning (capture created it for the packing).
    sscc_created = [e for e in _events(exported) if e.get("epcList") == [_sscc_uri(api)]]
    assert [e["bizStep"] for e in sscc_created] == ["commissioning"]
    out = [e for e in _events(exported) if e not in sscc_created]
    captured = [normalise(e) for e in _events(outbound) + _events(inbound)]
    assert [normalise(e) for e in out] == captured

    # capture(export(x)): every event recognised as recorded, nothing sent.
    height = c.manufacturer.w3.eth.block_number
    back = _accepted(partner, "manufacturer", doc(*_events(exported)))
    assert back["success"] is True, back
    assert {e["state"] for e in back["events"]} == {"already_recorded"}
    assert [e["eventID"] for e in back["events"]] == [e["eventID"] for e in _events(exported)]
    assert c.manufacturer.w3.eth.block_number == height


def test_a_refusal_halfway_is_reported_per_event_and_a_retry_applies_only_the_rest(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    c = api.consortium
    commission = event(
        "ObjectEvent", action="ADD", bizStep="commissioning", epcList=[dl(api, "P1", c.lot)]
    )
    ship_to_self = event(  # P1 does not exist yet: the rehearsal cannot try this
        "ObjectEvent",
        action="OBSERVE",
        bizStep="shipping",
        epcList=[dl(api, "P1")],
        destinationList=[
            {"type": "owning_party", "destination": party(api, c.manufacturer.address)}
        ],
    )
    later = event(
        "ObjectEvent", action="ADD", bizStep="commissioning", epcList=[dl(api, "P2", c.lot)]
    )
    job = _accepted(partner, "manufacturer", doc(commission, ship_to_self, later))
    assert job["success"] is False and job["state"] == "failed"
    states = [(e["index"], e["state"]) for e in job["events"]]
    assert states == [(0, "applied"), (1, "refused"), (2, "not_applied")]
    assert job["events"][1]["code"] == "ItemsSelfShipment"
    assert job["errors"][0]["code"] == "ItemsSelfShipment"
    p1 = item_id(unit_path(c.gtin, "P1"))
    assert c.manufacturer.item(p1).status is ItemStatus.ACTIVE
    # Posted again without the bad event: the commissioning is already recorded, the rest applied.
    p2 = item_id(unit_path(c.gtin, "P2"))
    assert c.manufacturer.item(p2).status is ItemStatus.NONE
    job = _accepted(partner, "manufacturer", doc(commission, later))
    assert [e["state"] for e in job["events"]] == ["already_recorded", "applied"]
    assert c.manufacturer.item(p2).status is ItemStatus.ACTIVE


def test_a_member_sees_only_its_own_capture_jobs(api: ApiEnv, partner: PartnerEnv) -> None:
    c = api.consortium
    commission = event(
        "ObjectEvent", action="ADD", bizStep="commissioning", epcList=[dl(api, "J1", c.lot)]
    )
    job = _accepted(partner, "manufacturer", doc(commission))
    mine = partner.login(c.manufacturer)
    listed = api.client.get("/v1/epcis/capture", headers=mine).json()["jobs"]
    assert [j["captureID"] for j in listed] == [job["captureID"]]
    other = partner.login(c.distributor)
    r = api.client.get(f"/v1/epcis/capture/{job['captureID']}", headers=other)
    assert r.status_code == 404 and r.json()["code"] == "unknown_capture"
    assert api.client.get("/v1/epcis/capture", headers=other).json()["jobs"] == []
    assert api.client.get("/v1/epcis/capture/not-an-id", headers=mine).status_code == 422
    assert api.client.get(f"/v1/epcis/capture/{job['captureID']}").status_code == 401


def test_a_job_whose_process_stopped_reads_as_interrupted(api: ApiEnv, partner: PartnerEnv) -> None:
    jobs = capture_jobs(api.services)
    member = api.consortium.manufacturer.address
    jobs.start("ab" * 16, member=member, event_count=3)
    headers = partner.login(api.consortium.manufacturer)
    running = api.client.get(f"/v1/epcis/capture/{'ab' * 16}", headers=headers).json()
    assert running["state"] == "running" and running["running"] is True
    jobs.stale_after = 0
    time.sleep(1.1)
    job = api.client.get(f"/v1/epcis/capture/{'ab' * 16}", headers=headers).json()
    assert (job["state"], job["running"], job["success"]) == ("interrupted", False, False)
    assert job["errors"][-1]["code"] == "capture_interrupted"


def test_locations_and_parties_that_are_not_the_members_are_refused_before_anything_applies(
    api: ApiEnv, partner: PartnerEnv
) -> None:
    c = api.consortium
    c.regulator.set_primary_gln(c.distributor.address, DEPOT_GLN)
    api.sync()
    commission = event(
        "ObjectEvent",
        action="ADD",
        bizStep="commissioning",
        epcList=[dl(api, "L1", c.lot)],
        readPoint={"id": DEPOT},
    )
    r = _post(partner, "manufacturer", doc(commission))
    assert r.status_code == 422 and r.json()["code"] == "epcis_location_not_yours", r.text
    assert r.json()["field"] == "$.epcisBody.eventList[0].readPoint.id"
    bad = {**commission, "readPoint": {"id": "urn:epc:id:sgln:95060.00.0"}}
    r = _post(partner, "manufacturer", doc(bad))
    assert r.status_code == 422 and r.json()["code"] == "epcis_location_invalid"
    c.manufacturer.commission(c.lot_key, ["L1"])
    api.sync()
    ship = event(
        "ObjectEvent",
        action="OBSERVE",
        bizStep="shipping",
        epcList=[dl(api, "L1")],
        **_parties(api, c.distributor.address, c.distributor.address),  # wrong sender
    )
    r = _post(partner, "manufacturer", doc(ship))
    assert r.status_code == 422 and r.json()["code"] == "epcis_party_mismatch", r.text
    assert c.manufacturer.item(item_id(unit_path(c.gtin, "L1"))).holder == c.manufacturer.address


def test_normalisation_of_gs1_examples_keeps_what_the_ledger_records() -> None:
    shipping, receiving = example("Example_9.6.1-ObjectEvent.jsonld")["epcisBody"]["eventList"]
    assert normalise(shipping) == {
        "type": "ObjectEvent",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "epcList": ["/01/10614141073464/21/2017", "/01/10614141073464/21/2018"],
        "readPoint": "0614141073467",
        "bizTransactions": [("po", "http://transaction.acme.com/po/12345678")],
    }
    normalised = normalise(receiving)
    assert normalised["readPoint"] == normalised["bizLocation"] == "0012345111112"
    assert normalised["bizTransactions"] == [
        ("desadv", "1152"),  # urn:epcglobal:cbv:bt:<issuer GLN>:1152, the GLN derived
        ("po", "http://transaction.acme.com/po/12345678"),
    ]
    for name in ("Example_9.6.2-ObjectEvent.jsonld", "Example_9.6.3-AggregationEvent.jsonld"):
        for one in example(name)["epcisBody"]["eventList"]:
            once = normalise(one)
            assert once["type"] == one["type"] and "eventTime" not in once
