"""The records pages through the real app: a hospital's use record and explant of an
implant, a service record and a return order, read back by their parties (in Chinese and
English), hidden from other members (404), and checked against the chain by the
regulator."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from medledger.domain import records
from tests.portal.conftest import PortalEnv
from tests.portal.test_partner_pages import post


def _at_the_hospital(portal: PortalEnv, *serials: str) -> list[str]:
    c = portal.api.consortium
    units = c.manufacturer.commission(c.lot_key, list(serials)).value
    shipment = c.manufacturer.ship(c.hospital.address, units).value
    c.hospital.receive(shipment, temp_min=50, temp_max=80)
    portal.api.sync()
    return [f"(01){c.gtin}(21){s}" for s in serials]


def _record_ids(page: str) -> dict[str, str]:
    rows = re.findall(r'<tr data-kind="([a-z_]+)">.*?/portal/records/([0-9a-f]+)"', page, re.S)
    return {kind: record_id for kind, record_id in rows}


def test_a_hospital_records_use_explant_and_service_and_the_parties_read_them(
    portal: PortalEnv,
) -> None:
    c = portal.api.consortium
    implant, pump = _at_the_hospital(portal, "RPX1", "RPX2")
    hospital = portal.sign_in("hospital", lang="en")
    used = post(
        hospital,
        "/portal/hospital/use",
        {"contents": implant, "use": "implant", "record": "OP-2026-88"},
        page="/portal/hospital",
    )
    assert used.status_code == 200, used.text
    explanted = post(
        hospital,
        "/portal/records/explant",
        page="/portal/records",
        data={
            "code": implant,
            "explant_date": "2026-05-01",
            "reason": "loosening after 4 weeks",
            "condition": "worn",
            "returned_to_manufacturer": "1",
        },
    )
    assert explanted.status_code == 200 and "The explant is recorded." in explanted.text
    serviced = post(
        hospital,
        "/portal/records/service",
        page="/portal/records",
        data={
            "service_code": pump,
            "service_date": "2026-05-02",
            "service_type": "calibration",
            "result": "passed",
            "technician_org": c.logistics.address,
            "next_due": "2026-11-02",
            "notes": "annual calibration",
        },
    )
    assert serviced.status_code == 200 and "The service record is saved." in serviced.text

    trace = hospital.get("/portal/trace", params={"code": implant})
    link = re.search(r'id="unit-records" href="([^"]+)"', trace.text)
    assert link is not None, "the unit's trace links to its records"
    history = hospital.get(link.group(1))
    assert history.status_code == 200
    ids = _record_ids(history.text)
    assert set(ids) == {"dispense", "explant"}
    # The use record carries the procedure number, sealed: not a hash of it on chain.
    use = hospital.get(f"/portal/records/{ids['dispense']}")
    assert "OP-2026-88" in use.text
    salt, plaintext = records.opening(portal.api.services, ids["dispense"])
    assert b"OP-2026-88" in plaintext

    maker = portal.sign_in("manufacturer", lang="zh")
    explant_page = maker.get(f"/portal/records/{ids['explant']}")
    assert explant_page.status_code == 200
    assert "loosening after 4 weeks" in explant_page.text and "取出" in explant_page.text
    assert set(_record_ids(maker.get("/portal/records/unit", params={"code": implant}).text)) == {
        "explant"
    }  # the hospital's own use record is the hospital's

    distributor = portal.sign_in("distributor", lang="en")
    for record_id in ids.values():
        assert distributor.get(f"/portal/records/{record_id}").status_code == 404
    refused = distributor.get("/portal/records/unit", params={"code": implant})
    assert 'data-code="item_not_found"' in refused.text

    regulator = portal.sign_in("regulator", lang="zh")
    checked = regulator.get(f"/portal/records/{ids['explant']}")
    assert checked.status_code == 200 and 'data-matches="true"' in checked.text
    assert "DocumentAnchored" in checked.text
    use_check = regulator.get(f"/portal/records/{ids['dispense']}")
    assert 'data-matches="true"' in use_check.text and "ItemsDispensed" in use_check.text


def test_a_return_order_goes_back_to_the_supplier_on_a_shipment(portal: PortalEnv) -> None:
    c = portal.api.consortium
    (unit,) = _at_the_hospital(portal, "RPR1")
    hospital: TestClient = portal.sign_in("hospital", lang="zh")
    sent = post(
        hospital,
        "/portal/records/return",
        page="/portal/records",
        data={
            "supplier": c.manufacturer.address,
            "contents": unit,
            "return_reason": "damaged",
            "note": "外箱破损",
        },
    )
    assert sent.status_code == 200, sent.text
    notice = re.search(r'role="status">[^<]*?(\d+)', sent.text)
    assert notice is not None, sent.text
    shipment = c.admin.shipment(int(notice.group(1)))
    assert (shipment.sender, shipment.receiver) == (c.hospital.address, c.manufacturer.address)
    portal.api.sync()
    maker = portal.sign_in("manufacturer", lang="en")
    history = maker.get("/portal/records/unit", params={"code": unit})
    (record_id,) = _record_ids(history.text).values()
    order = maker.get(f"/portal/records/{record_id}")
    assert "外箱破损" in order.text and "Damaged" in order.text


def test_the_manufacturer_sees_the_adverse_event_rate_alert_of_its_lot(portal: PortalEnv) -> None:
    c = portal.api.consortium
    (unit,) = _at_the_hospital(portal, "RPA1")
    services = portal.api.services
    services.settings = services.settings.model_copy(update={"adverse_event_rate_threshold": 0.5})
    hospital = portal.sign_in("hospital", lang="en")
    reported = post(
        hospital,
        "/portal/hospital/adverse-events",
        {
            "code": unit,
            "severity": "1",
            "event_date": "2026-05-03",
            "outcome": "serious_injury",
            "device_problem": "battery depleted early",
            "narrative": "device stopped pacing",
        },
    )
    assert reported.status_code == 200 and "recorded" in reported.text, reported.text[-2000:]
    portal.api.sync()
    maker = portal.sign_in("manufacturer", lang="zh")
    page = maker.get("/portal/adverse-events")
    assert f'data-lot="{c.lot}"' in page.text  # 1 reporter for 1 unit: over 0.5
    assert "贵方批次的不良事件发生率预警" in page.text
    distributor = portal.sign_in("distributor", lang="en")
    assert 'id="lot-alerts"' not in distributor.get("/portal/adverse-events").text
