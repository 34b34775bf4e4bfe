"""Verification answers are signed: an app checks them offline with the published key and
nothing but `cryptography`; the Digital Link resolver negotiates HTML or signed JSON."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from medledger.sdk.gs1 import Udi
from tests.api.conftest import ApiEnv


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _published_key(api: ApiEnv) -> tuple[str, Ed25519PublicKey]:
    response = api.client.get("/.well-known/medledger-verify-key")
    assert response.status_code == 200
    (jwk,) = response.json()["keys"]
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "EdDSA")
    return jwk["kid"], Ed25519PublicKey.from_public_bytes(_b64url_decode(jwk["x"]))


def _unit(api: ApiEnv, serial: str) -> Udi:
    api.consortium.manufacturer.commission(api.consortium.lot_key, [serial])
    api.sync()
    return Udi(gtin=api.consortium.gtin, serial=serial, lot=api.consortium.lot)


def test_a_verdict_verifies_offline_against_the_published_key(api: ApiEnv) -> None:
    udi = _unit(api, "SIG0001")
    kid, public = _published_key(api)
    response = api.client.post("/v1/verify", json={"code": udi.element_string()})
    assert response.status_code == 200
    assert response.headers["x-medledger-key-id"] == kid
    signature = _b64url_decode(response.headers["x-medledger-signature"])
    public.verify(signature, response.content)  # raises if the body was not signed as is
    assert json.loads(response.content)["verdict"] == "genuine"


def test_a_tampered_verdict_fails_verification(api: ApiEnv) -> None:
    udi = _unit(api, "SIG0002")
    _, public = _published_key(api)
    response = api.client.get("/v1/verify", params={"code": udi.gs1_payload()})
    signature = _b64url_decode(response.headers["x-medledger-signature"])
    forged = response.content.replace(b'"verdict":"genuine"', b'"verdict":"recalled"')
    assert forged != response.content
    with pytest.raises(InvalidSignature):
        public.verify(signature, forged)


def test_the_key_id_is_the_rfc7638_thumbprint_of_the_published_jwk(api: ApiEnv) -> None:
    jwk = api.client.get("/.well-known/medledger-verify-key").json()["keys"][0]
    members = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":")
    )
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest())
    assert jwk["kid"] == thumbprint.rstrip(b"=").decode()


def test_even_an_unknown_verdict_is_signed(api: ApiEnv) -> None:
    _, public = _published_key(api)
    response = api.client.get("/v1/verify", params={"code": "(01)09506000134352(21)NOPE"})
    assert response.json()["verdict"] == "unknown"
    public.verify(_b64url_decode(response.headers["x-medledger-signature"]), response.content)


def test_the_resolver_serves_the_human_page_to_a_browser(api: ApiEnv) -> None:
    udi = _unit(api, "DL0001")
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    path = f"/01/{udi.gtin}/10/{udi.lot}/21/{udi.serial}"
    response = api.client.get(path, headers={"Accept": browser})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'data-verdict="genuine"' in response.text
    assert "真品" in response.text and "Genuine" in response.text
    assert "Shanghai MedTech Devices Co." in response.text
    assert "Accept" in response.headers["vary"]


def test_the_resolver_serves_signed_json_to_a_json_client(api: ApiEnv) -> None:
    udi = _unit(api, "DL0002")
    _, public = _published_key(api)
    for path in (f"/01/{udi.gtin}/21/{udi.serial}", f"/01/{udi.gtin}/10/{udi.lot}/21/DL0002"):
        response = api.client.get(path, headers={"Accept": "application/json"})
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        public.verify(_b64url_decode(response.headers["x-medledger-signature"]), response.content)
        body = response.json()
        assert body["verdict"] == "genuine"
        assert body["code"]["serial"] == "DL0002"


def test_the_resolver_reads_dates_from_the_query_and_flags_a_wrong_expiry(api: ApiEnv) -> None:
    udi = _unit(api, "DL0003")
    path = f"/01/{udi.gtin}/10/{udi.lot}/21/{udi.serial}"
    json_only = {"Accept": "application/json"}
    wrong = api.client.get(path, params={"17": "401231"}, headers=json_only).json()
    assert wrong["code"]["expiry"] == "2040-12-31"
    assert wrong["verdict"] == "suspect"
    assert "expiry_mismatch" in {r["code"] for r in wrong["reasons"]}
    bad = api.client.get(path, params={"17": "401340"}, headers=json_only)
    assert bad.status_code == 400
    assert bad.json()["code"] == "bad_date"
    bad_gtin = api.client.get("/01/09506000134353/21/X", headers=json_only)
    assert bad_gtin.json()["code"] == "bad_check_digit"


def test_the_resolver_answers_the_same_verdict_as_the_verify_route(api: ApiEnv) -> None:
    udi = _unit(api, "DL0004")
    api.consortium.manufacturer.destroy([udi.item_id])
    api.sync()
    via_link = api.client.get(
        f"/01/{udi.gtin}/10/{udi.lot}/21/{udi.serial}", headers={"Accept": "application/json"}
    ).json()
    via_verify = api.client.get("/v1/verify", params={"code": udi.element_string()}).json()
    for body in (via_link, via_verify):
        body.pop("checked_at")
        body.pop("checked_at_iso")
    assert via_link == via_verify
    assert via_link["verdict"] == "destroyed"


def test_the_resolver_shows_a_browser_why_a_code_is_invalid(api: ApiEnv) -> None:
    response = api.client.get("/01/09506000134353/21/X", headers={"Accept": "text/html"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert 'data-error="bad_check_digit"' in response.text
    assert "无法识别此代码" in response.text and "We could not read this code" in response.text
    hostile = api.client.get(
        "/01/09506000134352/21/<b>x", params={"17": "<script>"}, headers={"Accept": "*/*"}
    )
    assert hostile.status_code == 400
    assert "<script>" not in hostile.text and "<b>" not in hostile.text
