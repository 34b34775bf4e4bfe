"""The public verdict and the regulator's alerts judge scans by one rule set
(`domain.scan_rules`, issue 14): the same recorded scans, through the real API, the real
indexer and the regulator's real alerts route, give the same anomalies, rule by rule."""

from __future__ import annotations

from typing import Any

from medledger.domain.alerts import AlertKind, scan_anomalies
from medledger.domain.auth import create_api_key
from medledger.domain.scan_rules import scan_policy
from medledger.domain.verdicts import ReasonCode
from medledger.domain.verifier import verifier
from medledger.sdk.gs1 import Udi
from tests.api.conftest import ApiEnv
from tests.api.regulator_mode import AUTH, regulator_client

DAY = 24 * 3600
RULES = {
    ReasonCode.TWO_PLACES: AlertKind.SCAN_TWO_PLACES,
    ReasonCode.SCANNED_AFTER_DISPENSED: AlertKind.SCAN_AFTER_DISPENSED,
    ReasonCode.SCANNED_AFTER_DESTROYED: AlertKind.SCAN_AFTER_DESTROYED,
}


def test_the_verdict_and_the_regulators_alerts_agree_on_every_anomaly_rule(api: ApiEnv) -> None:
    c = api.consortium
    units = c.manufacturer.commission(c.lot_key, ["AG1", "AG2", "AG3", "AG4", "AG5"]).value
    serial = dict(zip(units, ["AG1", "AG2", "AG3", "AG4", "AG5"], strict=True))
    used, destroyed, twice, anonymous_first, near = units
    first = c.manufacturer.ship(c.distributor.address, [used]).value
    c.distributor.receive(first, temp_min=52, temp_max=79)
    second = c.distributor.ship(c.hospital.address, [used]).value
    c.hospital.receive(second, temp_min=40, temp_max=80)
    c.hospital.dispense([used])
    c.manufacturer.destroy([destroyed])
    api.sync()
    keys = {
        who: {"X-API-Key": create_api_key(api.services, c.by_name(who).address, label=who)[1]}
        for who in ("hospital", "hospital2")
    }
    scans: list[tuple[bytes, set[ReasonCode]]] = []

    def scan(unit: bytes, who: str | None, expect: set[ReasonCode], **place: Any) -> None:
        code = Udi(gtin=c.gtin, serial=serial[unit], lot=c.lot).element_string()
        headers = keys[who] if who else {}
        response = api.client.post(
            "/v1/verify", json={"code": code, "location": place or None}, headers=headers
        )
        assert response.status_code == 200, response.text
        found = {ReasonCode(r["code"]) for r in response.json()["reasons"]} & set(RULES)
        assert found == expect, (serial[unit], place)
        scans.append((unit, found))

    # Within the grace after use: no anomaly.
    scan(used, None, set(), country="CN", region="31")
    scan(destroyed, "hospital", set())
    # Two places: a member's scan, then a distant one; near places and incomparable ones
    # are not; an anonymous scan is evidence against nobody.
    scan(twice, "hospital", set(), country="CN", region="31")
    scan(twice, None, {ReasonCode.TWO_PLACES}, country="US")
    scan(twice, None, set(), country="CN", region="31")
    scan(twice, "hospital2", {ReasonCode.TWO_PLACES}, country="JP")
    scan(anonymous_first, None, set(), country="US")
    scan(anonymous_first, "hospital", set(), country="CN", region="31")
    scan(near, "hospital", set(), lat=31.23, lon=121.47)
    scan(near, None, set(), lat=31.24, lon=121.48)
    scan(near, None, set(), country="US")
    # Days later: past the grace after use, and past the two-places window.
    api.chain.advance(2 * DAY)
    api.sync()
    scan(used, None, {ReasonCode.SCANNED_AFTER_DISPENSED}, country="CN", region="31")
    scan(destroyed, "hospital2", {ReasonCode.SCANNED_AFTER_DESTROYED})
    scan(twice, None, set(), country="BR")

    verifier(api.services).scans.flush()
    with api.services.engine.connect() as conn:
        ids = [
            int(i) for (i,) in conn.exec_driver_sql("SELECT id FROM verification_scans ORDER BY id")
        ]
        anomalies = scan_anomalies(conn, since=0, policy=scan_policy(api.services.settings))
    assert len(ids) == len(scans)
    alerted: dict[int, set[ReasonCode]] = {i: set() for i in ids}
    for anomaly in anomalies:
        alerted[anomaly.scan.id].add(anomaly.rule)
    assert [alerted[i] for i in ids] == [rules for _, rules in scans]
    assert {a.scan.scan.item_key for a in anomalies} == {used, destroyed, twice}

    # The regulator's route says the same, one alert per anomalous scan.
    body = regulator_client(api).get("/v1/regulator/alerts", headers=AUTH).json()
    scan_kinds = {k.value for k in RULES.values()}
    got = sorted((a["kind"], a["item_id"]) for a in body["alerts"] if a["kind"] in scan_kinds)
    want = sorted((RULES[r].value, "0x" + u.hex()) for u, rules in scans for r in rules)
    assert got == want
