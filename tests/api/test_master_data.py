"""Product master data through the API: a manufacturer anchors a record (registering the
product and its package levels), the public reads it at GET /v1/devices/{gtin}, an
unchanged record changes nothing and a changed one becomes version 2 with history kept."""

from __future__ import annotations

from typing import Any

from medledger.sdk import gs1
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv

partner = partner_env.partner


def record(prefix: str, **changes: Any) -> dict[str, Any]:
    unit = gs1.make_gtin(indicator=0, company_prefix=prefix, item_reference=4321)
    box = gs1.make_gtin(indicator=1, company_prefix=prefix, item_reference=4321)
    body: dict[str, Any] = {
        "gtin": unit,
        "name_zh": "一次性使用无菌注射器",
        "name_en": "Sterile single-use syringe",
        "model": "5ml 带针 0.6×25TWLB",
        "registration_number": "国械注准20153150001",
        "registration_expiry": "2030-06-30",
        "device_class": 3,
        "classification_code": "14-01-01",
        "manufacturer_zh": "示范医疗器械有限公司",
        "manufacturer_en": "Demo Medical Devices Co., Ltd.",
        "serialised": False,
        "single_use": True,
        "storage": {"temp_min": 0, "temp_max": 300, "conditions_zh": "常温避光"},
        "packages": [{"gtin": box, "child_gtin": unit, "quantity": 100}],
    }
    body.update(changes)
    return body


def test_a_manufacturer_anchors_master_data_and_the_public_reads_its_versions(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    body = record(c.prefix)
    gtin = body["gtin"]
    client = partner.api.client
    put = client.put(
        f"/v1/partner/products/{gtin}/master", json=body, headers=partner.login(c.manufacturer)
    )
    assert put.status_code == 200, put.text
    assert put.json()["outcome"] == "created" and put.json()["version"] == 1
    assert put.json()["packages_registered"] == [body["packages"][0]["gtin"]]
    product = c.manufacturer.product(gtin)
    assert product is not None and product.serialised is False
    partner.api.sync()

    got = client.get(f"/v1/devices/{gtin}")
    assert got.status_code == 200, got.text
    view = got.json()
    assert view["manufacturer"] == c.manufacturer.address
    assert view["master"]["name_zh"] == "一次性使用无菌注射器"
    assert view["master"]["registration_number"] == "国械注准20153150001"
    assert view["packages"] == [
        {"gtin": body["packages"][0]["gtin"], "child_gtin": gtin, "quantity": 100, "units": 100}
    ]
    assert [v["version"] for v in view["history"]] == [1]
    by_box = client.get(f"/v1/devices/{body['packages'][0]['gtin']}").json()
    assert (by_box["gtin"], by_box["requested_gtin"]) == (gtin, body["packages"][0]["gtin"])

    headers = partner.login(c.manufacturer)
    again = client.put(f"/v1/partner/products/{gtin}/master", json=body, headers=headers)
    assert again.json()["outcome"] == "unchanged" and again.json()["version"] == 1
    changed = record(c.prefix, model="5ml 带针 0.7×32TWLB")
    second = client.put(f"/v1/partner/products/{gtin}/master", json=changed, headers=headers)
    assert second.json()["outcome"] == "updated" and second.json()["version"] == 2
    partner.api.sync()
    history = client.get(f"/v1/devices/{gtin}").json()["history"]
    assert [(v["version"], v["record"]["model"]) for v in history] == [
        (1, "5ml 带针 0.6×25TWLB"),
        (2, "5ml 带针 0.7×32TWLB"),
    ]


def test_master_data_that_the_ledger_cannot_change_is_refused(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    body = record(c.prefix)
    headers = partner.login(c.manufacturer)
    client = partner.api.client
    assert (
        client.put(
            f"/v1/partner/products/{body['gtin']}/master", json=body, headers=headers
        ).status_code
        == 200
    )
    refused = client.put(
        f"/v1/partner/products/{body['gtin']}/master",
        json=record(c.prefix, device_class=2),
        headers=headers,
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "master_data_conflict"


def test_another_member_cannot_anchor_the_manufacturers_product(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    body = record(c.prefix)
    response = partner.api.client.put(
        f"/v1/partner/products/{body['gtin']}/master",
        json=body,
        headers=partner.login(c.distributor),
    )
    assert response.status_code == 409
    assert response.json()["code"] == "prefix_not_owned"


def test_an_unknown_gtin_has_no_master_data(partner: PartnerEnv) -> None:
    response = partner.api.client.get("/v1/devices/06901234999991")
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_product"
    assert partner.api.client.get("/v1/devices/123").status_code == 422


def test_the_verdict_names_the_product_from_its_master_data(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    product = c.manufacturer.product(c.gtin)
    assert product is not None
    body = record(
        c.prefix,
        gtin=c.gtin,
        name_zh="髋关节假体",
        name_en="Hip joint prosthesis",
        model="THA-52",
        registration_number="国械注准20263130001",
        device_class=3,
        serialised=True,
        storage={"temp_min": 20, "temp_max": 250},
        packages=[],
    )
    client = partner.api.client
    headers = partner.login(c.manufacturer)
    put = client.put(f"/v1/partner/products/{c.gtin}/master", json=body, headers=headers)
    assert put.status_code == 200, put.text
    c.manufacturer.commission(c.lot_key, ["MD0001"])
    partner.api.sync()
    code = gs1.Udi(gtin=c.gtin, serial="MD0001", lot=c.lot, expiry=None).element_string()
    verdict = client.post("/v1/verify", json={"code": code}).json()
    assert verdict["product"]["name_zh"] == "髋关节假体"
    assert verdict["product"]["model"] == "THA-52"
    assert verdict["product"]["registration_number"] == "国械注准20263130001"
    assert verdict["product"]["manufacturer_zh"] == "示范医疗器械有限公司"
