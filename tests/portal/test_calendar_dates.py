"""Dates are calendar dates in the consortium's time zone end to end: a production date
typed into the portal's lot form reads back as the same day on the verification page and
in the API, although it is stored as midnight China Standard Time (the day before in UTC)."""

from __future__ import annotations

import datetime as dt

from medledger.sdk.dates import day_end, day_of, day_start
from medledger.sdk.gs1 import Udi, lot_key
from tests.api.partner_env import PartnerEnv
from tests.portal.conftest import PortalEnv, csrf_of


def test_a_day_is_stored_as_its_start_and_end_in_shanghai_and_reads_back_as_itself() -> None:
    day = dt.date(2026, 11, 20)
    assert day_start(day) == int(dt.datetime(2026, 11, 19, 16, tzinfo=dt.UTC).timestamp())
    assert day_end(day) == int(dt.datetime(2026, 11, 20, 15, 59, 59, tzinfo=dt.UTC).timestamp())
    assert day_of(day_start(day)) == day_of(day_end(day)) == day


def test_a_production_date_typed_in_the_portal_reads_the_same_on_the_verify_page_and_api(
    portal: PortalEnv,
) -> None:
    c = portal.api.consortium
    client = portal.sign_in("manufacturer", lang="en")
    token = csrf_of(client.get("/portal/manufacturer").text)
    lot = {
        "lot_gtin": c.gtin,
        "lot": "D1120",
        "production_date": "2026-11-20",
        "expiry": "2028-06-30",
        "csrf_token": token,
    }
    assert client.post("/portal/manufacturer/lots", data=lot).status_code == 303
    c.manufacturer.commission(lot_key(c.gtin, "D1120"), ["DATE0001"])
    portal.api.sync()
    code = Udi(gtin=c.gtin, lot="D1120", serial="DATE0001", expiry=dt.date(2028, 6, 30))

    answer = portal.api.client.post("/v1/verify", json={"code": code.element_string()}).json()
    assert answer["verdict"] == "genuine", answer
    assert answer["lot"]["production_date"] == "2026-11-20"
    assert answer["lot"]["expiry"] == "2028-06-30"

    page = portal.client(lang="en").get("/portal/verify", params={"code": code.element_string()})
    assert "Nov 20, 2026" in page.text and "Jun 30, 2028" in page.text
    assert "Nov 19, 2026" not in page.text
    chinese = portal.client(lang="zh").get("/portal/verify", params={"code": code.gs1_payload()})
    assert "2026年11月20日" in chinese.text


def test_the_partner_api_takes_calendar_dates_as_the_portal_does(
    portal: PortalEnv, partner: PartnerEnv
) -> None:
    c = portal.api.consortium
    body = {"gtin": c.gtin, "lot": "API-D", "production_date": "2026-11-20", "expiry": "2028-06-30"}
    made = portal.api.client.post(
        "/v1/partner/lots", json=body, headers=partner.login(c.manufacturer)
    )
    assert made.status_code == 201, made.text
    lot = c.manufacturer.lot(lot_key(c.gtin, "API-D"))
    assert lot is not None
    assert lot.production_date == day_start(dt.date(2026, 11, 20))
    assert lot.expiry == day_end(dt.date(2028, 6, 30))
    portal.api.sync()
    answer = portal.api.client.post("/v1/verify", json={"code": f"(01){c.gtin}(10)API-D"}).json()
    assert answer["lot"]["production_date"] == "2026-11-20"
    assert answer["lot"]["expiry"] == "2028-06-30"
    bad = portal.api.client.post(
        "/v1/partner/lots",
        json={**body, "lot": "API-E", "expiry": "30/06/2028"},
        headers=partner.login(c.manufacturer),
    )
    assert bad.status_code == 422
