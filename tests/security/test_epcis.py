"""Attack replays, EPCIS and bad codes (issue 13, findings 13, 15, 16, 17): sensor values
that broke the capture, a code urllib cannot split in every face that reads codes, a
megabyte of bad events, and a document refused half-way. Each is refused with a 4xx and
a machine-readable code, and the stack keeps serving."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from medledger.api.epcis.document import MAX_EVENTS
from medledger.api.epcis.schema import MAX_ERRORS
from medledger.sdk.deploy import Deployment
from medledger.sdk.gs1 import item_id, unit_path
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import ItemStatus
from tests.api.epcis_docs import doc
from tests.security.conftest import Target

BAD_CODE = "http://x]/"
TIME = {"eventTime": "2026-01-05T10:00:00.000Z", "eventTimeZoneOffset": "+08:00"}
MAKER, DISTRIBUTOR = "chengrui", "ruitong"
GENUINE_LOT, RECALLED_LOT = "CR2601A", "BC2603A"  # the seed recalls BC2603A


def _gtin(target: Target, lot: str) -> str:
    return next(str(p["gtin"]) for p in target.seed.products if lot in p["lots"])


def _unit(target: Target, lot: str, serial: str) -> str:
    return f"https://id.example.com/01/{_gtin(target, lot)}/10/{lot}/21/{serial}"


def _ship(target: Target, epc: str, receiver: str) -> dict[str, Any]:
    chain_id = Deployment.load(target.stack.deployment_file).chain_id
    destination = f"did:pkh:eip155:{chain_id}:{target.organisation(receiver)['address']}"
    return {
        "type": "ObjectEvent",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "epcList": [epc],
        "destinationList": [{"type": "owning_party", "destination": destination}],
        **TIME,
    }


@contextmanager
def _member(target: Target, slug: str) -> Iterator[httpx.Client]:
    """A client of the partner API signed in as `slug` (challenge and token)."""
    with httpx.Client(base_url=target.api, timeout=60) as client:
        client.headers.update(target.bearer(slug))
        yield client


def _capture(client: httpx.Client, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    return client.post("/v1/epcis/capture?sync=true", content=body, headers=headers)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token in the page"
    return found.group(1)


@contextmanager
def _portal(target: Target, slug: str) -> Iterator[httpx.Client]:
    """A browser-like client of the portal signed in as `slug`, in English."""
    with httpx.Client(base_url=target.api, timeout=60, cookies={"lang": "en"}) as client:
        form = client.get("/portal/sign-in")
        password = target.passwords()[slug]
        data = {"username": slug, "password": password, "csrf_token": _csrf(form.text)}
        signed_in = client.post("/portal/sign-in", data=data)
        assert signed_in.status_code == 303, signed_in.text
        yield client


@pytest.mark.parametrize(
    ("report", "code"),
    [
        ({"value": 1e308}, "epcis_sensor_value_out_of_range"),
        ({"value": 4000}, "epcis_sensor_value_out_of_range"),
        ({"value": -5000}, "epcis_sensor_value_out_of_range"),
        ({"value": math.nan}, "epcis_sensor_value_not_finite"),
    ],
)
def test_sensor_values_out_of_range_are_a_422_naming_the_field(
    target: Target, report: dict[str, Any], code: str
) -> None:
    receiving = {
        "type": "ObjectEvent",
        "action": "OBSERVE",
        "bizStep": "receiving",
        "epcList": [_unit(target, GENUINE_LOT, "EPS1")],
        "sensorElementList": [{"sensorReport": [{"type": "gs1:Temperature", **report}]}],
        **TIME,
    }
    with _member(target, DISTRIBUTOR) as client:
        r = _capture(client, json.dumps(doc(receiving)).encode())  # NaN goes out as NaN
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code
    assert r.json()["field"].endswith(".sensorElementList[0].sensorReport[0].value")
    target.assert_still_serving()


def test_a_code_urllib_cannot_split_is_a_4xx_in_epcis_query_and_capture(target: Target) -> None:
    with _member(target, MAKER) as client:
        r = client.get("/v1/epcis/events", params={"MATCH_epc": BAD_CODE})
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "malformed"
        shipping = _ship(target, BAD_CODE, DISTRIBUTOR)
        r = _capture(client, json.dumps(doc(shipping)).encode())
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "epcis_unsupported_event"
        assert r.json()["gs1_reason"] == "malformed"
    target.assert_still_serving()


def test_a_code_urllib_cannot_split_is_a_4xx_in_the_ship_form_and_trace_explorer(
    target: Target,
) -> None:
    with _portal(target, MAKER) as browser:
        page = browser.get("/portal/shipments/outbound")
        assert page.status_code == 200, page.text
        form = {
            "csrf_token": _csrf(page.text),
            "receiver": target.organisation(DISTRIBUTOR)["address"],
            "contents": BAD_CODE,
        }
        shipped = browser.post("/portal/shipments/outbound", data=form)
        assert shipped.status_code == 400, shipped.text
        assert "This is not a GS1 code." in shipped.text
        traced = browser.get("/portal/trace", params={"code": BAD_CODE})
        assert traced.status_code == 400, traced.text
        assert "This is not a GS1 code." in traced.text
    target.assert_still_serving()


def test_a_megabyte_of_bad_events_is_refused_listing_only_the_first_errors(
    target: Target,
) -> None:
    junk = [f"not a code {i:040d}" for i in range(40)]
    bad = {"type": "ObjectEvent", "action": "SHIP", "eventTime": "yesterday", "epcList": junk}
    count = 1_000_000 // len(json.dumps(bad))
    assert count <= MAX_EVENTS
    body = json.dumps(doc(*[bad] * count)).encode()
    assert 900_000 < len(body) <= 1_000_000
    with _member(target, MAKER) as client:
        r = _capture(client, body)
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "epcis_schema_invalid"
        assert 0 < len(r.json()["errors"]) <= MAX_ERRORS
        small = {"type": "ObjectEvent", "action": "OBSERVE", **TIME}
        r = _capture(client, json.dumps(doc(*[small] * (MAX_EVENTS + 1))).encode())
        assert r.status_code == 413, r.text
        assert r.json()["code"] == "epcis_too_many_events"
    target.assert_still_serving()


def test_a_document_whose_second_event_is_refused_applies_nothing(target: Target) -> None:
    genuine = _unit(target, GENUINE_LOT, "EPA1")
    recalled = _unit(target, RECALLED_LOT, "EPR1")
    commission = [
        {"type": "ObjectEvent", "action": "ADD", "bizStep": "commissioning", "epcList": [epc]}
        | TIME
        for epc in (genuine, recalled)
    ]
    w3 = Web3(HTTPProvider(target.rpc))
    chain = Ledger(w3, Deployment.load(target.stack.deployment_file), Account.create())
    genuine_id = item_id(unit_path(_gtin(target, GENUINE_LOT), "EPA1"))
    with _member(target, MAKER) as client:
        r = _capture(client, json.dumps(doc(*commission)).encode())
        assert r.status_code == 200 and r.json()["captured"] == 2, r.text
        block = w3.eth.block_number
        both = doc(_ship(target, genuine, DISTRIBUTOR), _ship(target, recalled, DISTRIBUTOR))
        r = _capture(client, json.dumps(both).encode())
    assert r.status_code == 409, r.text
    assert r.json()["code"].startswith("ItemsRecalled")
    assert r.json()["event_index"] == 1 and r.json()["applied"] == []
    unit = chain.item(genuine_id)
    assert unit.holder == target.organisation(MAKER)["address"]
    assert unit.status is ItemStatus.ACTIVE
    assert w3.eth.block_number == block  # no transaction of the document was sent
    target.assert_still_serving()
