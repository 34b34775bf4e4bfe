"""The inspection-export pages: a member downloads its own records for a period (zh and
en pages), a bad period is shown as a sentence in the page's language; the regulator, on
its deployment, picks any member and downloads a recall's summary report; a partner
cannot open the regulator's page."""

from __future__ import annotations

import io

from eth_utils import keccak
from openpyxl import load_workbook
from pypdf import PdfReader

from medledger.sdk.dates import day_of
from tests.portal.conftest import PortalEnv
from tests.portal.regulator_env import regulator_app_client, sign_in


def _received(portal: PortalEnv) -> str:
    """Two units received by the distributor; the month they were received in."""
    c = portal.api.consortium
    units = c.manufacturer.commission(c.lot_key, ["PX1", "PX2"]).value
    c.distributor.receive(
        c.manufacturer.ship(c.distributor.address, units).value, temp_min=50, temp_max=80
    )
    portal.api.sync()
    now = int(portal.api.chain.w3.eth.get_block("latest")["timestamp"])
    return day_of(now).strftime("%Y-%m")


def test_a_member_downloads_its_records_from_the_page(portal: PortalEnv) -> None:
    month = _received(portal)
    c = portal.api.consortium
    zh = portal.sign_in("distributor", lang="zh")
    page = zh.get("/portal/exports")
    assert page.status_code == 200
    assert "检查导出" in page.text and "验收记录" in page.text and "下载 PDF" in page.text
    got = zh.get(
        "/portal/exports/download", params={"kind": "purchase", "period": month, "format": "xlsx"}
    )
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    rows = list(load_workbook(io.BytesIO(got.content)).worksheets[0].iter_rows(values_only=True))
    line = dict(zip(rows[0], rows[2], strict=True))
    assert line["产品标识 (DI/GTIN)"] == c.gtin and line["数量"] == 2
    pdf = zh.get(
        "/portal/exports/download", params={"kind": "acceptance", "period": month, "format": "pdf"}
    )
    assert pdf.status_code == 200 and PdfReader(io.BytesIO(pdf.content)).pages

    en = portal.sign_in("distributor", lang="en")
    bad = en.get("/portal/exports/download", params={"kind": "purchase", "period": "2026-13"})
    assert bad.status_code == 400
    assert "Give the period as a month" in bad.text and 'value="2026-13"' in bad.text
    bad_zh = zh.get("/portal/exports/download", params={"kind": "purchase", "period": "2026-13"})
    assert "请以月份" in bad_zh.text


def test_the_regulator_exports_any_member_and_a_recall_report(portal: PortalEnv) -> None:
    month = _received(portal)
    c = portal.api.consortium
    recall = c.regulator.recall_lot(c.lot_key, level=1, reason_hash=keccak(text="r")).value
    portal.api.sync()
    assert portal.sign_in("distributor").get("/portal/exports/regulator").status_code in (400, 403)
    reg = sign_in(regulator_app_client(portal), "regulator")
    page = reg.get("/portal/exports/regulator")
    assert page.status_code == 200 and c.distributor.address in page.text
    got = reg.get(
        "/portal/exports/regulator/download",
        params={"kind": "acceptance", "member": c.distributor.address, "period": month},
    )
    assert got.status_code == 200
    signature = load_workbook(io.BytesIO(got.content))["签名 Signature"]
    signer = {row[1]: row[2] for row in signature.iter_rows(values_only=True)}["Signer address"]
    assert signer == c.regulator.address
    report = reg.get("/portal/exports/regulator/recall-report", params={"recall": recall})
    assert report.status_code == 200 and report.headers["content-type"] == "application/pdf"
