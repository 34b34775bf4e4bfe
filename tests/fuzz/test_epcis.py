"""Fuzz target: EPCIS capture and query over the real app on a real chain. Capture takes
GS1's worked examples (tests/api/epcis_examples) and documents like a partner's ERP sends for the
demo consortium (commission, pack, ship, receive with a temperature report), damaged as
JSON and as bytes; the query takes damaged EPCs, vocabularies, times and page tokens, as
the regulator and as a partner. Every answer is a 2xx or a 4xx with a machine-readable
code: never a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import example, given
from hypothesis import strategies as st

from medledger.domain.services import Component
from tests.api import epcis_docs as docs
from tests.api.conftest import ApiEnv
from tests.api.partner_env import PartnerEnv
from tests.api.regulator_mode import AUTH, regulator_client
from tests.fuzz.budget import fuzz
from tests.fuzz.known import tolerated
from tests.fuzz.mutate import HOSTILE_STRINGS, dumps, json_body, mutated_text
from tests.fuzz.seeds import epc_uris
from tests.fuzz.test_verify import assert_handled


def erp_documents(api: ApiEnv) -> list[dict[str, Any]]:
    """GS1's examples, and what the demo manufacturer's ERP sends for a unit of the demo lot
    (commission, pack into a case, ship it to the distributor) and what the distributor's
    sends on receipt (a temperature report), one document per step and all in one."""
    case, unit = docs.SSCC_URN, docs.dl(api, "FZ1", api.consortium.lot)
    to = docs.party(api, api.consortium.distributor.address)
    commission = docs.event("ObjectEvent", action="ADD", bizStep="commissioning", epcList=[unit])
    pack = docs.event("AggregationEvent", action="ADD", bizStep="packing", parentID=case,
                      childEPCs=[unit])  # fmt: skip
    ship = docs.event("ObjectEvent", action="OBSERVE", bizStep="shipping", epcList=[case],
                      destinationList=[{"type": "owning_party", "destination": to}])  # fmt: skip
    examples = [docs.example(p.name) for p in sorted(docs.EXAMPLES.glob("Example_*.jsonld"))]
    return [*examples, *(docs.doc(e) for e in (commission, pack)),
            docs.doc(commission, pack, ship), _receipt(5.0)]  # fmt: skip


def _receipt(max_value: Any) -> dict[str, Any]:
    """The distributor's receipt of the case, with a temperature report up to `max_value`."""
    report = {"type": "gs1:Temperature", "minValue": 5.0, "maxValue": max_value, "uom": "CEL"}
    sensors = [{"sensorReport": [report]}]
    return docs.doc(
        docs.event(
            "ObjectEvent",
            action="OBSERVE",
            bizStep="receiving",
            disposition="active",
            epcList=[docs.SSCC_URN],
            sensorElementList=sensors,
        )  # fmt: skip
    )


@pytest.fixture
def members(partner: PartnerEnv) -> dict[str, dict[str, str]]:
    """Sign-in headers of the manufacturer and the distributor (both with custodial keys)."""
    c = partner.api.consortium
    return {name: partner.login(c.by_name(name)) for name in ("manufacturer", "distributor")}


def _capture(api: ApiEnv, headers: dict[str, str], body: bytes) -> Any:
    return api.client.post(
        "/v1/epcis/capture",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
        params={"sync": "true"},
    )


@pytest.fixture
def in_transit(api: ApiEnv, members: dict[str, dict[str, str]]) -> None:
    """The case of `erp_documents` shipped to the distributor, indexed, not yet received."""
    shipped = _capture(api, members["manufacturer"], dumps(erp_documents(api)[-2]))
    assert shipped.status_code == 200, shipped.text
    api.sync()


@fuzz(120)
@given(data=st.data())
def test_any_document_posted_for_capture_is_applied_or_refused_with_a_4xx(
    api: ApiEnv, members: dict[str, dict[str, str]], in_transit: None, data: st.DataObject
) -> None:
    seed = data.draw(st.sampled_from(erp_documents(api)), label="seed")
    body = data.draw(json_body(seed), label="body")
    who = data.draw(st.sampled_from(sorted(members)), label="member")
    with tolerated():
        assert_handled(_capture(api, members[who], body))


SENSOR_VALUES = (1e308, -1e308, 4000, -5000, float("nan"), float("inf"), 2**64, "30", None)


def test_a_receipt_with_an_impossible_sensor_value_is_refused_with_a_4xx(
    api: ApiEnv, members: dict[str, dict[str, str]], in_transit: None
) -> None:
    for value in SENSOR_VALUES:
        with tolerated():
            response = _capture(api, members["distributor"], dumps(_receipt(value)))
            assert_handled(response)
            assert 400 <= response.status_code < 500, (value, response.text)


hostile_epcs = st.one_of(epc_uris(), epc_uris().flatmap(mutated_text), st.text(max_size=40))
query_values = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=20))
times = st.one_of(
    st.just("2026-01-05T10:00:00Z"),
    st.just("2026-01-05T10:00:00.000+08:00").flatmap(mutated_text),
    st.sampled_from(["9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "2026-02-30T00:00:00Z"]),
)


@st.composite
def event_queries(draw: st.DrawFn) -> list[tuple[str, str | int | float | bool | None]]:
    params: list[tuple[str, str | int | float | bool | None]] = []
    for _ in range(draw(st.integers(0, 3))):
        params.append(("MATCH_epc", draw(hostile_epcs)))
    for name in ("EQ_bizStep", "EQ_disposition"):
        if draw(st.booleans()):
            params.append((name, draw(st.one_of(st.just("shipping"), query_values))))
    for name in ("GE_eventTime", "LT_eventTime"):
        if draw(st.booleans()):
            params.append((name, draw(times)))
    if draw(st.booleans()):
        params.append(("perPage", draw(st.one_of(st.integers(), query_values).map(str))))
    if draw(st.booleans()):
        token = st.one_of(st.integers(min_value=0).map(str), st.sampled_from(HOSTILE_STRINGS))
        params.append(("nextPageToken", draw(token)))
    return params


@fuzz(150)
@given(params=event_queries(), as_regulator=st.booleans())
@example(params=[("MATCH_epc", "http://x]/")], as_regulator=True)
@example(params=[("MATCH_epc", "http://x]/")], as_regulator=False)
@example(params=[("nextPageToken", "999999999999999999")], as_regulator=True)
def test_any_event_query_is_answered_with_a_document_or_a_4xx(
    api: ApiEnv,
    members: dict[str, dict[str, str]],
    params: list[tuple[str, str | int | float | bool | None]],
    as_regulator: bool,
) -> None:
    client = _regulator(api) if as_regulator else api.client
    headers = AUTH if as_regulator else members["manufacturer"]
    with tolerated():
        assert_handled(client.get("/v1/epcis/events", params=params, headers=headers))


def _regulator(api: ApiEnv) -> TestClient:
    return api.services.components.get(_REGULATOR, lambda: regulator_client(api))


_REGULATOR: Component[TestClient] = Component("fuzz.regulator")
