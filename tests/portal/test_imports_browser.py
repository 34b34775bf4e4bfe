"""Bulk import in a real browser (Debian's headless Chromium, Playwright) against the live
app: a commissioning list is uploaded, the progress bar reaches 100 % without a reload and
the units are on the ledger; a file with bad rows shows each row's problem in Chinese and
writes nothing."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect
from typer.testing import CliRunner

from medledger.cli import app
from medledger.domain.auth import create_api_key
from medledger.sdk import gs1
from medledger.sdk.model import ItemStatus
from tests.portal import browser_env
from tests.portal.live import LiveChain, LiveSite
from tests.portal.test_browser import new_page, sign_in

chain = browser_env.chain
site = browser_env.site
browser = browser_env.browser

__all__ = ["new_page"]


def test_a_commissioning_list_is_imported_with_a_progress_bar_to_100_percent(
    chain: LiveChain, site: LiveSite, new_page, tmp_path: Path
) -> None:
    c = chain.consortium
    serials = [f"WEB{n:03d}" for n in range(6)]
    lines = ["产品标识,批号,序列号"] + [f"{c.gtin},{c.lot},{s}" for s in serials]
    upload = tmp_path / "list.csv"
    upload.write_bytes("\n".join(lines).encode("utf-8-sig"))
    page = new_page("en-US")
    sign_in(page, site, "manufacturer")
    page.goto(site.url("/portal/imports"))
    page.get_by_label("What the file holds").select_option("commissioning")
    page.get_by_label("CSV (UTF-8 or GB18030) or XLSX file", exact=False).set_input_files(upload)
    page.get_by_role("button", name="Check and import").click()
    bar = page.locator("progress#import-progress")
    expect(bar).to_have_attribute("max", "6")
    expect(page.get_by_role("status")).to_contain_text("Done: 6 rows imported.", timeout=60_000)
    expect(bar).to_have_attribute("value", "6")
    expect(page.locator("#import-job")).to_contain_text("(100%)")
    for s in serials:
        item = c.manufacturer.item(gs1.item_id(gs1.unit_path(c.gtin, s)))
        assert item.status is ItemStatus.ACTIVE


def test_a_file_with_bad_rows_shows_each_rows_problem_in_chinese(
    chain: LiveChain, site: LiveSite, new_page, tmp_path: Path
) -> None:
    c = chain.consortium
    bad_gtin = c.gtin[:-1] + str((int(c.gtin[-1]) + 1) % 10)
    lines = [
        "产品标识,批号,序列号",
        f"{c.gtin},{c.lot},ZH001",
        f"{bad_gtin},{c.lot},ZH002",
        f"{c.gtin},{c.lot},ZH001",
    ]
    upload = tmp_path / "bad.csv"
    upload.write_bytes("\n".join(lines).encode("gb18030"))
    page = new_page("zh-CN")
    sign_in(page, site, "manufacturer")
    page.goto(site.url("/portal/imports?lang=zh"))  # sign_in chose English
    page.locator("#f-file").set_input_files(upload)
    page.get_by_role("button", name="检查并导入").click()
    expect(page.get_by_role("alert")).to_contain_text("未写入任何内容")
    rows = page.locator("#import-errors tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-row", "3")
    expect(rows.nth(0)).to_contain_text("校验位错误")
    expect(rows.nth(1)).to_have_attribute("data-row", "4")
    expect(rows.nth(1)).to_contain_text("与第 2 行重复")
    item = c.manufacturer.item(gs1.item_id(gs1.unit_path(c.gtin, "ZH001")))
    assert item.status is ItemStatus.NONE


def test_the_cli_imports_through_the_api_and_names_a_bad_row(
    chain: LiveChain, site: LiveSite, tmp_path: Path
) -> None:
    c = chain.consortium
    _, key, _ = create_api_key(site.services, c.manufacturer.address, label="erp import")
    key_file = tmp_path / "key"
    key_file.write_text(key)
    good = tmp_path / "good.csv"
    good.write_text("gtin,lot,serial\n" + "".join(f"{c.gtin},{c.lot},CLI{n}\n" for n in range(3)))
    args = [
        "import",
        "commissioning",
        str(good),
        "--api",
        site.base_url,
        "--key-file",
        str(key_file),
    ]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    assert "3 rows imported" in done.output
    assert (
        c.manufacturer.item(gs1.item_id(gs1.unit_path(c.gtin, "CLI2"))).status is ItemStatus.ACTIVE
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(f"gtin,lot,serial\n{c.gtin},NOPE-LOT,CLI9\n")
    args[2] = str(bad)
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1
    assert "row 2, column lot = 'NOPE-LOT'" in refused.output and "lot_unknown" in refused.output
