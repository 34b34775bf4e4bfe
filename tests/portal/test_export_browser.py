"""Inspection exports in a real browser (Debian's headless Chromium, Playwright) against the
live app: the distributor opens "Inspection exports", picks its acceptance records for the
month and downloads them as XLSX and PDF; the files are opened here and verify; a bad
period comes back as a sentence on the page with what was typed kept."""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import load_workbook
from playwright.sync_api import expect
from pypdf import PdfReader

from medledger.domain.inspection_exports import verify_export
from medledger.sdk.dates import day_of
from tests.portal import browser_env
from tests.portal.live import LiveChain, LiveSite
from tests.portal.test_browser import new_page, sign_in

chain = browser_env.chain
site = browser_env.site
browser = browser_env.browser
__all__ = ["new_page"]


def test_the_distributor_downloads_its_acceptance_records_as_xlsx_and_pdf(
    chain: LiveChain, site: LiveSite, new_page, tmp_path: Path
) -> None:
    c = chain.consortium
    units = c.manufacturer.commission(c.lot_key, ["EXB1", "EXB2"]).value
    c.distributor.receive(
        c.manufacturer.ship(c.distributor.address, units).value, temp_min=40, temp_max=60
    )
    chain.wait_indexed()
    month = day_of(int(chain.chain.w3.eth.get_block("latest")["timestamp"])).strftime("%Y-%m")

    page = new_page("en-US")
    sign_in(page, site, "distributor")
    page.get_by_role("link", name="Inspection exports").click()
    page.get_by_label("Records").select_option(label="Acceptance records")
    page.get_by_label("Period").fill("2026-13")
    page.get_by_role("button", name="Download XLSX").click()
    expect(page.get_by_role("alert")).to_contain_text("Give the period as a month")
    expect(page.get_by_label("Period")).to_have_value("2026-13")

    page.get_by_label("Period").fill(month)
    with page.expect_download() as xlsx_download:
        page.get_by_role("button", name="Download XLSX").click()
    xlsx = xlsx_download.value.path().read_bytes()
    rows = list(load_workbook(io.BytesIO(xlsx)).worksheets[0].iter_rows(values_only=True))
    assert rows[1][0] == "Acceptance date" and rows[0][0] == "验收日期"
    accepted = [dict(zip(rows[0], r, strict=True)) for r in rows[2:]]
    mine = [r for r in accepted if r["序列号"] == "EXB1, EXB2"]
    assert len(mine) == 1 and mine[0]["合格数量"] == 2 and mine[0]["产品标识 (DI/GTIN)"] == c.gtin
    assert verify_export(None, xlsx).signer == c.distributor.address

    with page.expect_download() as pdf_download:
        page.get_by_role("button", name="Download PDF").click()
    pdf = pdf_download.value.path().read_bytes()
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "验收记录" in text and c.gtin in text
    checked = verify_export(None, pdf)
    assert checked.valid and checked.signer == c.distributor.address
