"""Malformed and adversarial barcodes against the real verification route: each gets a
specific 400 (or a verdict, when it is a valid code the ledger does not know), never a 5xx;
logistic units (SSCC) are verified too."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medledger.app import create_app
from medledger.domain.services import Components
from medledger.sdk.gs1 import make_sscc
from tests.api.conftest import ApiEnv

GTIN = "09506000134352"

# (code, expected GS1 reason) — each line a way labels are misprinted, misread or forged.
CORPUS = [
    ("", "invalid_request"),
    ("   ", "empty"),
    ("]d2   ", "empty"),
    ("]Yä", "malformed"),
    ("]zz", "empty"),  # an unknown symbology identifier with nothing after it
    ("(01)0950600013435", "malformed"),  # 13 digits after (01)
    ("(01)09506000134359(21)SN1", "bad_check_digit"),
    ("(00)106141411234567890", "bad_check_digit"),
    ("(01)09506000134352(21)SN 1", "malformed"),  # whitespace inside a value
    ("(01)09506000134352(21)", "malformed"),
    ("(01)09506000134352(21)ABCDEFGHIJKLMNOPQRSTU", "malformed"),  # 21 characters
    ("(01)09506000134352(21)SN1(21)SN2", "malformed"),  # the same AI twice, different data
    ("(01)09506000134352(00)106141411234567897", "malformed"),  # both GTIN and SSCC
    ("(01)09506000134352(17)270230(21)SN1", "bad_date"),  # 30 February
    ("(01)09506000134352(11)27AB01(21)SN1", "bad_date"),
    ("0109506000134352\x1d2399X", "unknown_ai"),
    ("010950600013435221SN1\x1d23X", "unknown_ai"),
    ("(01)09506000134352", "missing_serial"),
    ("]E009506000134352", "missing_serial"),  # an EAN/ITF scan carries no serial
    ("https://id.example/01/09506000134352", "missing_serial"),
    ("(21)SN1(10)LOT", "missing_gtin"),
    ("https://id.example/01/09506000134353/21/SN1", "bad_check_digit"),
    ("https://id.example/01/09506000134352/21/SN1?17=271301", "bad_date"),
    ("<script>alert(1)</script>", "malformed"),
    ("' OR 1=1 --", "malformed"),
    ("(01)09506000134352(21)SN1\x00", "malformed"),
]


@pytest.mark.parametrize(("code", "reason"), CORPUS)
def test_a_malformed_or_adversarial_code_gets_its_specific_error(
    api: ApiEnv, code: str, reason: str
) -> None:
    response = api.client.post("/v1/verify", json={"code": code})
    assert response.status_code == (422 if reason == "invalid_request" else 400)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == reason, response.json()


def test_valid_codes_with_hostile_serials_are_unknown_not_errors(api: ApiEnv) -> None:
    for serial in ("'%3B--", "%2F..%2F", "A-B.C_D", "x" * 20):
        uri = f"https://id.example/01/{GTIN}/21/{serial}"
        response = api.client.post("/v1/verify", json={"code": uri})
        assert response.status_code in (200, 400), response.text
        if response.status_code == 200:
            assert response.json()["verdict"] == "unknown"


@pytest.fixture
def unlimited(api: ApiEnv) -> TestClient:
    settings_ = api.services.settings.model_copy(update={"verify_rate_per_minute": 10**6})
    return TestClient(
        create_app(dataclasses.replace(api.services, settings=settings_, components=Components()))
    )


_PIECES = st.sampled_from(
    ["(01)", GTIN, "(21)", "(10)", "(17)", "(00)", "]d2", "]Q3", "\x1d", "21", "10", "17"]
    + ["https://x/01/", "/21/", "?17=", "SN1", "LOT2026A", "270131", "9", "%", "é", ")", "("]
)


@settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(code=st.one_of(st.lists(_PIECES, max_size=8).map("".join), st.text(max_size=40)))
def test_no_code_makes_the_verify_route_fail(unlimited: TestClient, code: str) -> None:
    response = unlimited.post("/v1/verify", json={"code": code})
    assert response.status_code in (200, 400, 422), response.text
    if response.status_code == 200:
        assert response.json()["verdict"] in {"unknown", "genuine", "suspect"}


def test_a_registered_container_is_verified_and_an_unknown_sscc_is_unknown(api: ApiEnv) -> None:
    c = api.consortium
    sscc = make_sscc(extension=0, company_prefix=c.prefix, serial_reference=42)
    c.manufacturer.create_container(sscc, company_prefix=c.prefix)
    api.sync()
    known = api.client.post("/v1/verify", json={"code": f"(00){sscc}"}).json()
    assert known["verdict"] == "genuine"
    assert known["code"]["sscc"] == sscc
    assert known["chain"][0]["event"] == "container_created"
    other = make_sscc(extension=0, company_prefix=c.prefix, serial_reference=43)
    unknown = api.client.post("/v1/verify", json={"code": f"]C1\x1d00{other}"}).json()
    assert unknown["verdict"] == "unknown"
    assert [r["code"] for r in unknown["reasons"]] == ["unknown_container"]


def test_a_pallet_label_link_resolves_to_its_container(api: ApiEnv) -> None:
    c = api.consortium
    sscc = make_sscc(extension=1, company_prefix=c.prefix, serial_reference=7)
    c.manufacturer.create_container(sscc, company_prefix=c.prefix)
    api.sync()
    as_json = api.client.get(f"/00/{sscc}", headers={"Accept": "application/json"})
    assert as_json.json()["verdict"] == "genuine"
    assert as_json.json()["code"]["sscc"] == sscc
    page = api.client.get(f"/00/{sscc}", headers={"Accept": "text/html"})
    assert 'data-verdict="genuine"' in page.text and sscc in page.text
    assert api.client.get(f"/00/{sscc[:-1]}0").status_code == 400  # check digit
