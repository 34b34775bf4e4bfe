"""The regulator's portal and the trace explorer in a real browser: Debian's headless
Chromium driven by Playwright against the live app in regulator mode (tests/portal/live.py)
over eth-tester with an indexer thread. The regulator recalls a lot and watches its scope
arrive live; the trace explorer shows a unit's timeline and organisation graph.

Never `playwright install`: the browser is /usr/bin/chromium. Screenshots go to
test-artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from medledger.sdk.gs1 import Udi
from tests.portal.live import CHROMIUM, LiveChain, LiveSite, live_chain, password_of
from tests.portal.recall_approvals_env import approve_in_browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveChain]:
    with live_chain(tmp_path_factory.mktemp("live-regulator")) as live:
        c = live.consortium
        units = c.manufacturer.commission(c.lot_key, ["RB1", "RB2", "RB3"]).value
        shipment = c.manufacturer.ship(c.distributor.address, units).value
        c.distributor.receive(shipment, temp_min=40, temp_max=60)
        c.hospital.receive(
            c.distributor.ship(c.hospital.address, units[:1]).value, temp_min=40, temp_max=60
        )
        live.wait_indexed()
        yield live


@pytest.fixture(scope="module")
def site(chain: LiveChain) -> Iterator[LiveSite]:
    regulator = chain.consortium.regulator.account
    with chain.serve(regulator=True, regulator_account=regulator) as served:
        yield served


@pytest.fixture(scope="module")
def page(site: LiveSite) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser: Browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
        opened = context.new_page()
        opened.goto(site.url("/portal/sign-in?lang=en"))
        opened.get_by_label("Username").fill("regulator")
        opened.get_by_label("Password").fill(password_of("regulator"))
        opened.get_by_role("button", name="Sign in", exact=True).click()
        expect(opened.locator("header .who")).to_be_visible()
        yield opened
        browser.close()


def _screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _unlabelled_controls(page: Page) -> list[str]:
    controls = "main input:not([type=hidden]), main select, main textarea, main button"
    return page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
              .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                           && !(e.tagName === 'BUTTON' && e.textContent.trim()))
              .map(e => e.outerHTML)""",
        controls,
    )


def test_the_regulator_lands_on_the_overview_with_its_charts(page: Page, site: LiveSite) -> None:
    page.goto(site.url("/portal/regulator?lang=en"))
    expect(page.get_by_role("heading", name="Network overview")).to_be_visible()
    expect(page.locator("svg.chart")).to_have_count(4)
    expect(page.get_by_role("img", name="Members by role")).to_be_visible()
    _screenshot(page, "regulator")
    page.goto(site.url("/portal/regulator?lang=zh"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="网络概览")).to_be_visible()
    _screenshot(page, "regulator-zh")
    page.goto(site.url("/portal/regulator?lang=en"))


def test_the_regulator_recalls_a_lot_and_sees_its_scope_arrive(
    page: Page, site: LiveSite, chain: LiveChain
) -> None:
    c = chain.consortium
    page.get_by_role("link", name="Recall centre").click()
    assert _unlabelled_controls(page) == []
    page.get_by_label("GTIN").fill(c.gtin)
    page.get_by_label("Lot number").fill(c.lot)
    page.get_by_label("Level 1", exact=False).check()
    page.get_by_label("Reason", exact=False).fill("Sterility breach found at release testing")
    page.get_by_label("Action required", exact=False).fill("Quarantine and return the units")
    page.get_by_label("Contact for holders").fill("QA hotline 400-000-0000")
    page.get_by_role("button", name="Issue the recall").click()
    # Proposed: a second regulator user approves it before anything goes on chain.
    expect(page).to_have_url(re.compile(r"/portal/regulator/recalls\?proposed=\w+$"))
    expect(page.locator('[data-proposal="recall_issue"] [data-field="level"]')).to_have_text("1")
    assert c.manufacturer.lot(c.lot_key).active_recall == 0  # type: ignore[union-attr]
    approve_in_browser(page, site, address=c.regulator.address, username="reg-qa-browser")
    recall_id = c.manufacturer.lot(c.lot_key).active_recall  # type: ignore[union-attr]
    page.goto(site.url(f"/portal/regulator/recalls/{recall_id}"))
    # htmx polls the progress until the indexer thread has reached the recall's block.
    expect(page.locator('[data-figure="outstanding"]')).to_have_text("3", timeout=15_000)
    holders = page.locator("#recall-holders tbody tr")
    expect(holders).to_have_count(2)
    expect(page.locator(f'tr[data-holder="{c.distributor.address}"]')).to_contain_text("2")
    expect(page.locator(f'tr[data-holder="{c.hospital.address}"]')).to_contain_text("awaiting")
    _screenshot(page, "regulator-recall")


def test_the_trace_explorer_shows_a_units_timeline_and_graph_by_keyboard(
    page: Page, site: LiveSite, chain: LiveChain
) -> None:
    c = chain.consortium
    code = Udi(gtin=c.gtin, lot=c.lot, serial="RB1").element_string()
    page.goto(site.url("/portal/trace?lang=en"))
    field = page.get_by_label("Code of a unit, case, pallet or lot")
    field.focus()
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    expect(page.locator("#timeline li")).to_have_count(5)
    expect(page.locator("svg.org-graph g.org")).to_have_count(3)
    hops = page.locator("svg.org-graph a.hop")
    expect(hops).to_have_count(2)
    _screenshot(page, "trace-explorer")
    # Each step links to its transaction: follow the first one with the keyboard.
    page.locator("#timeline li a").first.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Transaction", exact=True)).to_be_visible()
    expect(page.locator("#tx-facts")).to_contain_text("Items")
