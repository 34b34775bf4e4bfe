"""Public verification: each verdict reached through a real lifecycle on the chain, read
back through the real indexer and the real app; every input form; malformed codes."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient

from medledger.app import create_app
from medledger.domain.alerts import scan_anomalies
from medledger.domain.auth import create_api_key
from medledger.domain.scan_rules import scan_policy
from medledger.domain.verdicts import ReasonCode
from medledger.domain.verification import places_distant
from medledger.domain.verifier import verifier
from medledger.sdk.dates import day_of
from medledger.sdk.gs1 import Udi
from tests.api.conftest import ApiEnv

YEAR = 365 * 24 * 3600
DAY = 24 * 3600


def _lot_expiry(api: ApiEnv) -> datetime.date:
    lot = api.consortium.manufacturer.lot(api.consortium.lot_key)
    assert lot is not None
    return day_of(lot.expiry)


def _udi(api: ApiEnv, serial: str, **changes: Any) -> Udi:
    fields: dict[str, Any] = {
        "gtin": api.consortium.gtin,
        "serial": serial,
        "lot": api.consortium.lot,
        "expiry": _lot_expiry(api),
    }
    fields.update(changes)
    return Udi(**fields)


def _commission(api: ApiEnv, *serials: str) -> list[bytes]:
    ids: list[bytes] = api.consortium.manufacturer.commission(
        api.consortium.lot_key, list(serials)
    ).value
    return ids


def _to_hospital(api: ApiEnv, item: bytes) -> None:
    c = api.consortium
    first = c.manufacturer.ship(c.distributor.address, [item]).value
    c.distributor.receive(first, temp_min=52, temp_max=79)
    second = c.distributor.ship(c.hospital.address, [item]).value
    c.hospital.receive(second, temp_min=40, temp_max=80)


def _verify(api: ApiEnv, code: str, **location: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code}
    if location:
        body["location"] = location
    response = api.client.post("/v1/verify", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _codes(result: dict[str, Any]) -> set[str]:
    return {r["code"] for r in result["reasons"]}


def test_a_commissioned_unit_is_genuine_with_its_product_lot_and_chain_references(
    api: ApiEnv,
) -> None:
    (item,) = _commission(api, "SN000001")
    api.sync()
    result = _verify(api, _udi(api, "SN000001").element_string())
    assert result["verdict"] == "genuine"
    assert result["status"] == "active"
    assert result["code"]["item_id"] == "0x" + item.hex()
    assert result["product"]["gtin"] == api.consortium.gtin
    assert result["product"]["manufacturer"] == "Shanghai MedTech Devices Co."
    assert result["product"]["device_class"] == 3
    assert result["product"]["registration_certificate_hash"] == (
        "0x" + keccak(text="NMPA registration 20263130001").hex()
    )
    assert result["product"]["registration_valid"] is True
    assert result["lot"]["lot"] == api.consortium.lot
    assert result["lot"]["expiry"] == _lot_expiry(api).isoformat()
    (ref,) = result["chain"]
    assert ref["event"] == "commissioned"
    receipt = api.chain.w3.eth.get_transaction_receipt(ref["tx_hash"])
    assert receipt["blockNumber"] == ref["block"]
    assert any(int(log["logIndex"]) == ref["log_index"] for log in receipt["logs"])


def test_all_four_input_forms_give_the_same_verdict(api: ApiEnv) -> None:
    _commission(api, "SN000002")
    api.sync()
    udi = _udi(api, "SN000002")
    forms = [
        udi.element_string(),
        udi.gs1_payload(),
        "]d2" + udi.gs1_payload(),
        udi.digital_link_uri(),
    ]
    assert "\x1d" in forms[1]
    results = [_verify(api, form) for form in forms]
    for r in results:
        r.pop("checked_at")
        r.pop("checked_at_iso")
    assert results[0]["verdict"] == "genuine"
    assert all(r == results[0] for r in results[1:])
    got = api.client.get("/v1/verify", params={"code": forms[2]})
    assert got.status_code == 200
    assert got.json()["verdict"] == "genuine"
    assert got.json()["code"] == results[0]["code"]


def test_an_unknown_serial_is_unknown_not_404(api: ApiEnv) -> None:
    _commission(api, "SN000003")
    api.sync()
    result = _verify(api, _udi(api, "FAKE0001").element_string())
    assert result["verdict"] == "unknown"
    assert _codes(result) == {"unknown_serial"}
    assert result["product"]["manufacturer"] == "Shanghai MedTech Devices Co."
    assert result["lot"] is None
    assert result["chain"] == []


def test_an_unregistered_gtin_is_unknown_product(api: ApiEnv) -> None:
    result = _verify(api, "(01)09506000134376(21)SN1")
    assert result["verdict"] == "unknown"
    assert _codes(result) == {"unknown_product"}
    assert result["product"] is None


def test_a_dispensed_unit_is_dispensed_then_suspect_when_scanned_days_later(api: ApiEnv) -> None:
    (item,) = _commission(api, "SN000004")
    _to_hospital(api, item)
    api.consortium.hospital.dispense([item])
    api.sync()
    code = _udi(api, "SN000004").element_string()
    result = _verify(api, code)
    assert result["verdict"] == "dispensed"
    assert result["status"] == "dispensed"
    assert [r["event"] for r in result["chain"]] == ["commissioned", "dispensed"]
    assert "scanned_after_dispensed" not in _codes(result)

    api.chain.advance(2 * DAY)
    api.sync()
    later = _verify(api, code)
    assert later["verdict"] == "suspect"
    assert {"dispensed", "scanned_after_dispensed"} <= _codes(later)


def test_a_destroyed_unit_is_destroyed_then_suspect_when_scanned_days_later(
    api: ApiEnv,
) -> None:
    (item,) = _commission(api, "SN000005")
    api.consortium.manufacturer.destroy([item])
    api.sync()
    code = _udi(api, "SN000005").digital_link_uri()
    result = _verify(api, code)
    assert result["verdict"] == "destroyed"
    assert result["chain"][-1]["event"] == "destroyed"
    api.chain.advance(2 * DAY)
    api.sync()
    later = _verify(api, code)
    assert later["verdict"] == "suspect"
    assert "scanned_after_destroyed" in _codes(later)


def test_a_unit_of_a_recalled_lot_is_recalled_with_the_recall_on_chain(api: ApiEnv) -> None:
    c = api.consortium
    (item,) = _commission(api, "SN000006")
    _to_hospital(api, item)
    recall = c.manufacturer.recall_lot(c.lot_key, level=2, reason_hash=keccak(text="seal"))
    api.sync()
    result = _verify(api, _udi(api, "SN000006").gs1_payload())
    assert result["verdict"] == "recalled"
    assert result["lot"]["recalled"] is True
    assert result["lot"]["recall_level"] == 2
    (ref,) = [r for r in result["chain"] if r["event"] == "recall_opened"]
    assert ref["tx_hash"] == "0x" + bytes(recall.receipt["transactionHash"]).hex()
    assert ref["block"] == recall.receipt["blockNumber"]
    assert ref["log_index"] in {int(log["logIndex"]) for log in recall.receipt["logs"]}
    assert ref["timestamp"] is not None
    assert ref["log_index"] is not None


def test_a_unit_of_an_expired_lot_is_expired(api: ApiEnv) -> None:
    _commission(api, "SN000007")
    api.chain.advance(3 * YEAR)
    api.sync()
    result = _verify(api, _udi(api, "SN000007").element_string())
    assert result["verdict"] == "expired"
    assert "expired" in _codes(result)
    assert "registration_expired" not in _codes(result)


def test_a_label_with_another_real_lot_is_suspect_serial_under_other_lot(api: ApiEnv) -> None:
    c = api.consortium
    now = api.chain.now()
    c.manufacturer.register_lot(
        c.gtin,
        "LOT2026B",
        production_date=now - DAY,
        expiry=now + YEAR,
        qc_release_hash=keccak(text="QC LOT2026B"),
    )
    _commission(api, "SN000008")
    api.sync()
    result = _verify(api, _udi(api, "SN000008", lot="LOT2026B").element_string())
    assert result["verdict"] == "suspect"
    assert "serial_under_other_lot" in _codes(result)
    assert result["lot"]["lot"] == c.lot


def test_a_label_with_a_made_up_lot_or_wrong_expiry_is_suspect(api: ApiEnv) -> None:
    _commission(api, "SN000009")
    api.sync()
    made_up = _verify(api, _udi(api, "SN000009", lot="NOSUCHLOT").element_string())
    assert made_up["verdict"] == "suspect"
    assert "lot_mismatch" in _codes(made_up)
    wrong_expiry = _udi(api, "SN000009", expiry=_lot_expiry(api) + datetime.timedelta(days=400))
    result = _verify(api, wrong_expiry.element_string())
    assert result["verdict"] == "suspect"
    assert _codes(result) >= {"expiry_mismatch"}
    assert "lot_mismatch" not in _codes(result)


def _member_key(api: ApiEnv, who: str = "hospital") -> dict[str, str]:
    """X-API-Key headers of a member's machine client (e.g. a hospital's scanner)."""
    address = api.consortium.by_name(who).address
    return {"X-API-Key": create_api_key(api.services, address, label=f"{who} scanner")[1]}


def _scan(
    api: ApiEnv, code: str, headers: dict[str, str] | None = None, **location: Any
) -> dict[str, Any]:
    response = api.client.post(
        "/v1/verify", json={"code": code, "location": location}, headers=headers or {}
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


# Before issue 13, any earlier scan counted, so an anonymous `country=US` scan of a guessed
# serial turned the unit suspect for the hospital scanning it next. Only member scans are
# evidence now; these tests scan first with a member's key where a verdict must turn.
def test_a_member_scan_then_a_distant_scan_within_hours_is_suspect(api: ApiEnv) -> None:
    _commission(api, "SN000010", "SN000011")
    api.sync()
    hospital = _member_key(api)
    shanghai = {"lat": 31.23, "lon": 121.47}
    beijing = {"lat": 39.90, "lon": 116.41}
    first = _udi(api, "SN000010").element_string()
    assert _scan(api, first, hospital, **shanghai)["verdict"] == "genuine"
    assert _scan(api, first, lat=31.25, lon=121.5)["verdict"] == "genuine"
    second = _scan(api, first, **beijing)
    assert second["verdict"] == "suspect"
    assert "two_places" in _codes(second)
    text = next(r["text"] for r in second["reasons"] if r["code"] == "two_places")
    assert "geo:31.2,121.5" in text and "only scans by authenticated members count" in text
    other = _udi(api, "SN000011").element_string()
    assert _scan(api, other, hospital, country="CN", region="31")["verdict"] == "genuine"
    abroad = _scan(api, other, _member_key(api, "hospital2"), country="US", region="CA")
    assert abroad["verdict"] == "suspect"


def test_an_anonymous_scan_never_turns_a_unit_suspect_for_the_next_scanner(
    api: ApiEnv,
) -> None:
    """Issue 13 finding 4: anonymous `country=US`, then the hospital's genuine scan."""
    _commission(api, "SN000014")
    api.sync()
    code = _udi(api, "SN000014").element_string()
    assert _scan(api, code, country="US")["verdict"] == "genuine"
    at_hospital = _scan(api, code, _member_key(api), country="CN", region="31")
    assert at_hospital["verdict"] == "genuine"
    assert "two_places" not in _codes(at_hospital)
    phone = _scan(api, code, country="CN", region="31")
    assert phone["verdict"] == "genuine"
    # The anonymous scan judges itself against the member scan before it.
    assert _scan(api, code, country="US")["verdict"] == "suspect"


def test_a_suspended_members_key_scans_as_anonymous(api: ApiEnv) -> None:
    c = api.consortium
    _commission(api, "SN000015")
    key = _member_key(api, "hospital2")
    c.regulator.suspend(c.hospital2.address, reason_hash=bytes(32))
    api.sync()
    code = _udi(api, "SN000015").element_string()
    assert _scan(api, code, key, country="US")["verdict"] == "genuine"
    assert _scan(api, code, country="CN", region="31")["verdict"] == "genuine"
    verifier(api.services).scans.flush()
    with api.services.engine.connect() as conn:
        scanners = conn.exec_driver_sql("SELECT scanner FROM verification_scans").scalars()
        assert set(scanners) == {None}


def test_a_member_scan_keeps_the_members_address_never_the_client_address(api: ApiEnv) -> None:
    (item,) = _commission(api, "SN000016")
    api.sync()
    code = _udi(api, "SN000016").element_string()
    with TestClient(create_app(api.services)) as client:  # shutdown writes queued scans
        for headers in (_member_key(api), {}):
            client.post("/v1/verify", json={"code": code}, headers=headers)
    with api.services.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT scanner FROM verification_scans WHERE item_key = ? ORDER BY id", (item,)
        ).all()
    assert [r[0] for r in rows] == [api.consortium.hospital.address, None]


def test_every_scan_is_logged_with_its_coarse_place_and_feeds_the_anomaly_query(
    api: ApiEnv,
) -> None:
    (item,) = _commission(api, "SN000012")
    api.sync()
    code = _udi(api, "SN000012").element_string()
    # The anomalies are the verdict's (issue 14): a point and a region are not comparable,
    # and only a member's scan is evidence against a later one (before, the alerts paired
    # any two scans whose location strings differed).
    member = _member_key(api)
    scans = [
        ({"lat": 31.2345, "lon": 121.4567}, member),
        ({"country": "CN", "region": "11"}, member),
        ({"country": "US"}, {}),
    ]
    # The app's shutdown writes the scans still queued for the batch writer.
    with TestClient(create_app(api.services)) as client:
        for location, headers in scans:
            response = client.post(
                "/v1/verify", json={"code": code, "location": location}, headers=headers
            )
            assert response.status_code == 200
    with api.services.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT id, location FROM verification_scans WHERE item_key = ? ORDER BY id", (item,)
        ).all()
        anomalies = scan_anomalies(conn, since=0, policy=scan_policy(api.services.settings))
    assert [r[1] for r in rows] == ["geo:31.2,121.5", "CN-11", "US"]
    found = [(a.rule, a.scan.id, a.earlier and a.earlier.location) for a in anomalies]
    assert found == [(ReasonCode.TWO_PLACES, rows[2][0], "CN-11")]


def _scans(api: ApiEnv, item: bytes) -> int:
    with api.services.engine.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM verification_scans WHERE item_key = ?", (item,)
        ).scalar()
    return int(found or 0)


def test_scans_are_written_in_the_background_while_the_app_runs(api: ApiEnv) -> None:
    (item,) = _commission(api, "SN000013")
    api.sync()
    code = _udi(api, "SN000013").element_string()
    for _ in range(3):
        _verify(api, code)
    deadline = time.monotonic() + 10
    while _scans(api, item) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _scans(api, item) == 3


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("(01)09506000134353(21)SN1", "bad_check_digit"),
        ("0109506000134352\x1d2399X", "unknown_ai"),
        ("(01)09506000134352", "missing_serial"),
        ("(01)09506000134352(17)281231", "missing_serial"),
        ("(01)09506000134352(17)271340(21)SN1", "bad_date"),
        ("https://id.example/01/09506000134352/21/SN1?17=2713", "bad_date"),
        ("]d2", "empty"),
        ("(21)SN1", "missing_gtin"),
    ],
)
def test_a_malformed_code_is_a_400_naming_what_is_wrong(
    api: ApiEnv, code: str, reason: str
) -> None:
    response = api.client.post("/v1/verify", json={"code": code})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == reason
    assert api.client.get("/v1/verify", params={"code": code}).json()["code"] == reason


def test_fields_outside_the_schema_and_bad_locations_are_rejected(api: ApiEnv) -> None:
    code = "(01)09506000134352(21)SN1"
    for body in (
        {"code": code, "verdict": "genuine"},
        {"code": code, "location": {"lat": 31.2}},
        {"code": code, "location": {"region": "31"}},
        {"code": code, "location": {"country": "China"}},
        {"code": code, "location": {"lat": 91, "lon": 0}},
        {"code": ""},
    ):
        response = api.client.post("/v1/verify", json=body)
        assert response.status_code == 422, body
        assert response.json()["code"] == "invalid_request"


def test_a_get_carries_the_scan_location_in_its_query(api: ApiEnv) -> None:
    _commission(api, "SN000013")
    api.sync()
    code = _udi(api, "SN000013").element_string()
    first = api.client.get(
        "/v1/verify", params={"code": code, "lat": 22.54, "lon": 114.06}, headers=_member_key(api)
    )
    assert first.json()["verdict"] == "genuine"
    second = api.client.get("/v1/verify", params={"code": code, "country": "DE"})
    assert second.json()["verdict"] == "genuine"  # a country and a point are not comparable
    third = api.client.get("/v1/verify", params={"code": code, "lat": 52.5, "lon": 13.4})
    assert third.json()["verdict"] == "suspect"
    for bad in ({"lat": 22.5}, {"region": "31"}, {"country": "cn"}, {"lon": 200, "lat": 0}):
        response = api.client.get("/v1/verify", params={"code": code, **bad})
        assert response.status_code == 422, bad
        assert response.json()["code"] == "invalid_request"


def test_a_label_expiry_is_read_as_a_local_date_of_the_ledger_expiry(api: ApiEnv) -> None:
    c = api.consortium
    shanghai = datetime.timezone(datetime.timedelta(hours=8))
    midnight = datetime.datetime(2028, 12, 31, tzinfo=shanghai)  # 2028-12-30 16:00 UTC
    lot_key = c.manufacturer.register_lot(
        c.gtin,
        "LOTSH",
        production_date=api.chain.now() - DAY,
        expiry=int(midnight.timestamp()),
        qc_release_hash=keccak(text="QC LOTSH"),
    ).value
    c.manufacturer.commission(lot_key, ["SH0001"])
    api.sync()
    for printed, verdict in (("281231", "genuine"), ("281230", "genuine"), ("281228", "suspect")):
        result = _verify(api, f"(01){c.gtin}(17){printed}(10)LOTSH(21)SH0001")
        assert result["verdict"] == verdict, printed


@pytest.mark.parametrize(
    ("a", "b", "distant"),
    [
        ("geo:31.2,121.5", "geo:31.3,121.4", False),
        ("geo:31.2,121.5", "geo:39.9,116.4", True),  # Shanghai - Beijing, ~1,070 km
        ("CN-31", "CN-11", True),
        ("CN-31", "CN", False),
        ("CN", "JP", True),
        ("CN-31 geo:31.2,121.5", "CN-31 geo:31.2,121.6", False),
        ("CN", "geo:39.9,116.4", False),
        ("", "CN", False),
    ],
)
def test_places_are_distant_only_when_comparable_and_far_apart(
    a: str, b: str, distant: bool
) -> None:
    assert places_distant(a, b, distant_km=300) is distant
    assert places_distant(b, a, distant_km=300) is distant
