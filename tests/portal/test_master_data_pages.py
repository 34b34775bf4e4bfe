"""Master data pages: a manufacturer uploads the sample file, follows the import's progress
to its report (refused rows with row, column, value and reason, in the reader's language),
exports its records, and anyone reads a product's public page with its names."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from medledger.ops.demo import data as sample_data
from tests.portal.conftest import PortalEnv, csrf_of

SAMPLE = (Path(sample_data.__file__).parent / "master_sample.csv").read_bytes()
PAGE = "/portal/manufacturer/master-data"


def upload(client: TestClient, name: str, data: bytes) -> str:
    token = csrf_of(client.get(PAGE).text)
    started = client.post(
        f"{PAGE}/import",
        data={"csrf_token": token},
        files={"file": (name, data, "application/octet-stream")},
    )
    assert started.status_code == 303, started.text
    job_url: str = started.headers["location"]
    for _ in range(300):
        fragment = client.get(job_url, headers={"HX-Request": "true"})
        if 'data-finished="true"' in fragment.text:
            break
        assert 'hx-trigger="every 500ms"' in fragment.text and "<progress" in fragment.text
        time.sleep(0.1)
    assert 'data-failed="false"' in fragment.text, fragment.text
    return fragment.text


def test_a_manufacturer_imports_the_sample_and_sees_the_report(portal: PortalEnv) -> None:
    client = portal.sign_in("manufacturer", lang="en")
    report = upload(client, "master_sample.csv", SAMPLE)
    assert "11 created, 0 updated, 0 unchanged, 0 refused." in report
    portal.api.sync()
    page = client.get(PAGE).text
    assert "一次性使用无菌注射器 带针" not in page  # English page: the English name
    assert "Sterile single-use syringe with needle" in page
    assert "国械注准20153150001" in page

    bad = SAMPLE.decode("utf-8-sig").replace("09506000201016", "09506000201017").encode()
    zh = portal.sign_in("manufacturer", lang="zh")
    second = upload(zh, "bad.csv", bad)
    assert 'data-refused="1"' in second
    assert 'data-row="2"' in second and "09506000201017" in second
    assert "校验位" in second  # the reason in Chinese
    assert "新建 0 个，更新 0 个，未变 10 个，拒绝 1 个。" in second


def test_an_unreadable_file_is_refused_on_the_page(portal: PortalEnv) -> None:
    client = portal.sign_in("manufacturer", lang="en")
    token = csrf_of(client.get(PAGE).text)
    page = client.post(
        f"{PAGE}/import", data={"csrf_token": token}, files={"file": ("a.txt", b"x", "text/plain")}
    )
    assert page.status_code == 400
    assert 'data-code="file_unreadable"' in page.text
    assert "unsupported file type: a.txt" in page.text


def test_export_downloads_and_the_public_product_page_shows_the_names(portal: PortalEnv) -> None:
    client = portal.sign_in("manufacturer")
    upload(client, "master_sample.csv", SAMPLE)
    portal.api.sync()
    xlsx = client.get(f"{PAGE}/export.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert "attachment" in xlsx.headers["content-disposition"]
    assert client.get(f"{PAGE}/export.pdf").status_code == 404

    public = portal.client(lang="zh")  # nobody signed in
    page = public.get("/portal/products/29506000301017")  # the syringe's case
    assert page.status_code == 200, page.text
    assert "一次性使用无菌注射器 带针" in page.text
    assert "国械注准20153150001" in page.text and "14-01-01" in page.text
    assert 'data-gtin="19506000301010"' in page.text and 'data-version="1"' in page.text
    english = portal.client(lang="en").get("/portal/products/09506000301013").text
    assert "Sterile single-use syringe with needle" in english and "by lot" in english
    assert public.get("/portal/products/12345").status_code == 404
    assert public.get("/portal/products/09506000999994").status_code == 404


def test_only_a_manufacturer_opens_the_import_page(portal: PortalEnv) -> None:
    assert portal.sign_in("distributor").get(PAGE).status_code == 403


def test_the_verification_page_names_the_product(portal: PortalEnv) -> None:
    from medledger.domain.master_files import write_records
    from medledger.sdk.gs1 import Udi
    from tests.api.test_master_data import demo_hip

    c = portal.api.consortium
    body = demo_hip(c.prefix, c.gtin)
    from medledger.domain.master_data import MasterRecord

    client = portal.sign_in("manufacturer")
    upload(client, "one.xlsx", write_records([MasterRecord.model_validate(body)], "xlsx"))
    c.manufacturer.commission(c.lot_key, ["PV0001"])
    portal.api.sync()
    code = Udi(gtin=c.gtin, serial="PV0001", lot=c.lot, expiry=None).element_string()
    page = portal.client(lang="en").get("/portal/verify", params={"code": code}).text
    assert "Hip joint prosthesis" in page and "THA-52" in page
    assert "国械注准20263130001" in page
