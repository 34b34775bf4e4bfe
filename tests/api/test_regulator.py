from __future__ import annotations

import json
import time

import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient

from medledger.domain.services import Components
from medledger.indexer.queries import record_scan
from medledger.sdk.model import LicenceKind, MemberStatus
from tests.api import partner_env
from tests.api.conftest import ApiEnv
from tests.api.partner_env import PartnerEnv
from tests.api.regulator_mode import AUTH, regulator_client

partner = partner_env.partner


@pytest.fixture
def reg(api: ApiEnv) -> TestClient:
    return regulator_client(api)


def test_regulator_routes_do_not_exist_in_partner_mode(api: ApiEnv) -> None:
    c = api.consortium
    assert api.client.get("/v1/regulator/alerts", headers=AUTH).status_code == 404
    r = api.client.post(
        "/v1/regulator/recalls",
        json={"gtin": c.gtin, "lot": c.lot, "level": 1, "reason": "x"},
        headers=AUTH,
    )
    assert r.status_code == 404
    assert c.manufacturer.lot(c.lot_key).active_recall == 0  # type: ignore[union-attr]


def test_regulator_routes_need_the_staff_token(reg: TestClient) -> None:
    assert reg.get("/v1/regulator/members").status_code == 401
    assert reg.post("/v1/regulator/members/0x" + "1" * 40 + "/reinstate").status_code == 401


def test_the_regulator_sees_every_member(api: ApiEnv, reg: TestClient) -> None:
    body = reg.get("/v1/regulator/members", headers=AUTH).json()
    addresses = {m["address"] for m in body["members"]}
    assert api.consortium.hospital2.address in addresses
    assert {m["role"] for m in body["members"]} >= {"regulator", "manufacturer", "hospital"}


def test_the_regulator_issues_and_closes_a_recall(partner: PartnerEnv) -> None:
    # The notice is sealed in the records store: the deployment needs its master key.
    api = partner.api
    reg = regulator_client(api)
    c = api.consortium
    r = reg.post(
        "/v1/regulator/recalls",
        json={"gtin": c.gtin, "lot": c.lot, "level": 1, "reason": "sterility breach"},
        headers=AUTH,
    )
    assert r.status_code == 201, r.text
    recall_id = r.json()["recall_id"]
    assert c.manufacturer.recall(recall_id)["open"] is True
    assert c.manufacturer.recall(recall_id)["initiator"] == c.regulator.address
    api.sync()  # closing checks what is outstanding in the read model
    closed = reg.post(f"/v1/regulator/recalls/{recall_id}/close", json={}, headers=AUTH)
    assert closed.status_code == 200, closed.text
    assert c.manufacturer.recall(recall_id)["open"] is False
    api.sync()
    progress = reg.get(f"/v1/trace/recalls/{recall_id}", headers=AUTH).json()
    assert progress["open"] is False


def test_a_recall_of_an_unknown_lot_is_refused_naming_the_rule(
    api: ApiEnv, reg: TestClient
) -> None:
    body = {"gtin": api.consortium.gtin, "lot": "NOSUCHLOT", "level": 2, "reason": "x"}
    r = reg.post("/v1/regulator/recalls", json=body, headers=AUTH)
    assert r.status_code in (409, 422)
    assert r.json()["code"].startswith("Devices")


def test_fields_outside_the_schema_are_rejected(api: ApiEnv, reg: TestClient) -> None:
    c = api.consortium
    body = {"gtin": c.gtin, "lot": c.lot, "level": 1, "reason": "x", "initiator": "0x" + "0" * 40}
    r = reg.post("/v1/regulator/recalls", json=body, headers=AUTH)
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"


def test_the_regulator_suspends_and_reinstates_a_member(api: ApiEnv, reg: TestClient) -> None:
    hospital = api.consortium.hospital
    r = reg.post(
        f"/v1/regulator/members/{hospital.address}/suspend", json={"reason": "audit"}, headers=AUTH
    )
    assert r.status_code == 200, r.text
    assert hospital.member(hospital.address).status is MemberStatus.SUSPENDED
    r = reg.post(f"/v1/regulator/members/{hospital.address}/reinstate", headers=AUTH)
    assert r.status_code == 200
    assert hospital.member(hospital.address).status is MemberStatus.ACTIVE


def test_the_regulator_attests_a_licence(api: ApiEnv, reg: TestClient) -> None:
    hospital = api.consortium.hospital
    until = int(time.time()) + 86400 * 30
    body = {
        "member": hospital.address,
        "kind": "practice",
        "number": "PRACTICE-2026-7",
        "device_classes": [1, 2],
        "valid_until": until,
    }
    r = reg.post("/v1/regulator/licences", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    licence = hospital.licence(hospital.address, LicenceKind.PRACTICE)
    assert licence.valid_until == until
    assert licence.number == "PRACTICE-2026-7"
    assert not hospital.is_qualified(hospital.address, 3)


def test_regulator_writes_without_a_configured_key_are_a_503(api: ApiEnv) -> None:
    client = regulator_client(api)
    services = client.app.state.services  # type: ignore[attr-defined]
    services.components, services.regulator_account = Components(), None
    r = client.post(
        f"/v1/regulator/members/{api.consortium.hospital.address}/reinstate", headers=AUTH
    )
    assert r.status_code == 503 and r.json()["code"] == "regulator_key_missing"


def test_alerts_report_excursions_adverse_event_rates_and_scan_anomalies(
    api: ApiEnv, reg: TestClient
) -> None:
    c = api.consortium
    units = c.manufacturer.commission(c.lot_key, ["A1", "A2", "A3"]).value
    shipment = c.manufacturer.ship(c.distributor.address, units).value
    # 30.0 C is above the product's 25.0 C storage maximum: quarantined on receipt.
    c.distributor.receive(shipment, temp_min=50, temp_max=300, excursion_seconds=1800)
    c.distributor.report_adverse_event(units[0], severity=2, report_hash=keccak(text="r"))
    api.sync()
    now = int(time.time())
    hospital = c.hospital.address
    with api.services.engine.begin() as conn:
        # A member's scan first: an anonymous earlier scan is no evidence (issue 13).
        record_scan(conn, units[1], scanned_at=now - 60, location="Shanghai", scanner=hospital)
        record_scan(conn, units[1], scanned_at=now, location="Urumqi", scanner=None)
    body = reg.get("/v1/regulator/alerts", headers=AUTH).json()
    kinds = {a["kind"]: a for a in body["alerts"]}
    assert kinds["cold_chain_excursion"]["shipment_id"] == shipment
    assert "quarantined" in kinds["cold_chain_excursion"]["detail"]
    assert kinds["adverse_event_rate"]["lot"] == c.lot
    assert kinds["adverse_event_rate"]["rate"] == pytest.approx(1 / 3)
    assert kinds["scan_two_places"]["item_id"] == "0x" + units[1].hex()
    paged = reg.get("/v1/regulator/alerts", params={"limit": 1}, headers=AUTH).json()
    assert len(paged["alerts"]) == 1 and paged["next_cursor"] == "1"


def test_an_adverse_event_rate_under_the_threshold_is_not_an_alert(api: ApiEnv) -> None:
    reg = regulator_client(api, adverse_event_rate_threshold=0.5)
    c = api.consortium
    units = c.manufacturer.commission(c.lot_key, ["B1", "B2", "B3"]).value
    c.manufacturer.report_adverse_event(units[0], severity=3, report_hash=keccak(text="r"))
    api.sync()
    kinds = {a["kind"] for a in reg.get("/v1/regulator/alerts", headers=AUTH).json()["alerts"]}
    assert "adverse_event_rate" not in kinds


def test_the_regulator_key_is_read_from_an_encrypted_keystore(api: ApiEnv, tmp_path) -> None:
    from eth_account import Account
    from pydantic import SecretStr

    keystore = tmp_path / "regulator-keystore.json"
    account = api.consortium.regulator.account
    keystore.write_text(json.dumps(Account.encrypt(account.key, "pass phrase")))
    client = regulator_client(
        api, regulator_keystore=keystore, regulator_key_password=SecretStr("pass phrase")
    )
    services = client.app.state.services  # type: ignore[attr-defined]
    services.components, services.regulator_account = Components(), None
    hospital = api.consortium.hospital
    r = client.post(f"/v1/regulator/members/{hospital.address}/suspend", json={}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert hospital.member(hospital.address).status is MemberStatus.SUSPENDED


def test_alerts_older_than_since_are_left_out(api: ApiEnv, reg: TestClient) -> None:
    c = api.consortium
    units = c.manufacturer.commission(c.lot_key, ["S1"]).value
    c.manufacturer.report_adverse_event(units[0], severity=1, report_hash=keccak(text="r"))
    api.sync()
    assert reg.get("/v1/regulator/alerts", headers=AUTH).json()["alerts"]
    later = {"since": api.chain.now() + 3600}
    assert reg.get("/v1/regulator/alerts", params=later, headers=AUTH).json()["alerts"] == []


def test_two_scans_close_together_are_not_a_scan_alert(api: ApiEnv, reg: TestClient) -> None:
    c = api.consortium
    (unit,) = c.manufacturer.commission(c.lot_key, ["G1"]).value
    api.sync()
    now = int(time.time())
    member = c.hospital.address
    with api.services.engine.begin() as conn:
        record_scan(conn, unit, scanned_at=now - 60, location="geo:31.230,121.470", scanner=member)
        record_scan(conn, unit, scanned_at=now, location="geo:31.240,121.480", scanner=None)
    kinds = {a["kind"] for a in reg.get("/v1/regulator/alerts", headers=AUTH).json()["alerts"]}
    assert "scan_two_places" not in kinds


def test_an_anonymous_scan_then_a_distant_scan_is_not_a_scan_alert(
    api: ApiEnv, reg: TestClient
) -> None:
    """Issue 13: anyone can send `country=US` for a guessed serial; it alerts nobody."""
    c = api.consortium
    (unit,) = c.manufacturer.commission(c.lot_key, ["G2"]).value
    api.sync()
    now = int(time.time())
    with api.services.engine.begin() as conn:
        record_scan(conn, unit, scanned_at=now - 60, location="US", scanner=None)
        record_scan(conn, unit, scanned_at=now, location="CN-31", scanner=c.hospital.address)
    kinds = {a["kind"] for a in reg.get("/v1/regulator/alerts", headers=AUTH).json()["alerts"]}
    assert "scan_two_places" not in kinds
