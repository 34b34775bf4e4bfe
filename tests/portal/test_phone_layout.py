"""The public pages and the hospital's pages in Chromium at a phone's viewport (390×844)
and a laptop's (1280 px): the verify input takes most of the width, the page does not
scroll sideways, and every menu entry stays on one line (a squeezed flex item wraps a
Chinese label one character per line). Also a 12-label request: 12 labels on 2 pages."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

from medledger.sdk import gs1
from tests.portal import browser_env
from tests.portal.live import LiveChain, LiveSite, password_of

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
VIEWPORTS = [pytest.param(PHONE, id="phone"), pytest.param(LAPTOP, id="laptop")]


chain = browser_env.chain
site = browser_env.site
browser = browser_env.browser


@pytest.fixture(scope="module")
def stocked(chain: LiveChain) -> LiveChain:
    """The hospital holds units, so its stock table has rows."""
    c = chain.consortium
    ids = c.manufacturer.commission(c.lot_key, ["PH0001", "PH0002"]).value
    shipment = c.manufacturer.ship(c.hospital.address, ids).value
    c.hospital.receive(shipment, temp_min=40, temp_max=80)
    chain.wait_indexed()
    return chain


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        context.close()


def _page(
    browser: Browser,
    contexts: list[BrowserContext],
    viewport: dict[str, int],
    locale: str = "zh-CN",
) -> Page:
    context = browser.new_context(locale=locale, viewport=viewport)  # type: ignore[arg-type]
    contexts.append(context)
    return context.new_page()


def _sign_in(page: Page, site: LiveSite, name: str) -> None:
    page.goto(site.url("/portal/sign-in"))
    page.locator("#f-username").fill(name)
    page.locator("#f-password").fill(password_of(name))
    page.locator("form[action='/portal/sign-in'] button[type=submit]").click()
    expect(page.locator("header .who")).to_be_visible()


def _no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page.url} is {overflow} px wider than the viewport"


def _menu_on_one_line_each(page: Page) -> None:
    """Each menu entry's text sits on one line: none wraps, let alone one character per
    line (the text's line boxes, counted by their distinct tops)."""
    lines = page.evaluate(
        """() => [...document.querySelectorAll('header nav a, header nav strong, header .who')]
             .map(el => {
               const range = document.createRange();
               range.selectNodeContents(el);
               const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
               return [el.textContent.trim(), tops.size];
             })"""
    )
    assert len(lines) >= 3, lines
    wrapped = [(text, count) for text, count in lines if count != 1]
    assert wrapped == [], f"{page.url}: menu entries on more than one line: {wrapped}"


def _verify_input_is_wide(page: Page, viewport: dict[str, int]) -> None:
    width = page.locator("#code").bounding_box()
    assert width is not None
    assert width["width"] >= 0.75 * min(viewport["width"], 1200), width


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_public_pages_fit_the_screen(
    site: LiveSite, browser: Browser, contexts: list[BrowserContext], viewport: dict[str, int]
) -> None:
    page = _page(browser, contexts, viewport)
    for path in ("/", "/portal/verify", "/portal/verify?code=(01)09506000134352(21)NOPE"):
        page.goto(site.url(path))
        _verify_input_is_wide(page, viewport)
        _no_sideways_scroll(page)
        _menu_on_one_line_each(page)
    page.goto(site.url("/"))
    page.locator("#to-portal").click()
    expect(page).to_have_url(site.url("/portal/sign-in"))


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_hospital_pages_fit_the_screen(
    stocked: LiveChain,
    site: LiveSite,
    browser: Browser,
    contexts: list[BrowserContext],
    viewport: dict[str, int],
    locale: str,
) -> None:
    page = _page(browser, contexts, viewport, locale)
    _sign_in(page, site, "hospital")
    for path in (
        "/portal/hospital",
        "/portal/shipments/inbound",
        "/portal/hospital/adverse-events",
    ):
        page.goto(site.url(path))
        if path == "/portal/hospital":
            expect(page.locator("tr[data-lot]")).to_have_count(1)
        _no_sideways_scroll(page)
        _menu_on_one_line_each(page)
        main = page.locator("main").bounding_box()
        assert main is not None and main["width"] >= 0.75 * min(viewport["width"], 1200), main


def test_a_twelve_label_request_shows_and_prints_twelve(
    chain: LiveChain, site: LiveSite, browser: Browser, contexts: list[BrowserContext]
) -> None:
    c = chain.consortium
    serials = [f"LC{n:04d}" for n in range(1, 13)]
    c.manufacturer.commission(c.lot_key, serials)
    chain.wait_indexed()
    page = _page(browser, contexts, PHONE, "en")
    _sign_in(page, site, "manufacturer")
    page.goto(site.url("/portal/manufacturer/labels"))
    page.get_by_label("Lot", exact=True).select_option(label=f"{c.gtin} · {c.lot}")
    page.get_by_label("Serial numbers (one per line)").fill("\n".join(serials))
    page.get_by_role("button", name="Make the label sheet").click()
    expect(page.locator("#labels-count")).to_have_attribute("data-labels", "12")
    expect(page.locator("#labels-count")).to_contain_text("Labels: 12, exactly as asked")
    sheets = page.locator(".label-sheet img")
    expect(sheets).to_have_count(2)
    printed: list[str] = []
    for index in range(2):
        sheets.nth(index).scroll_into_view_if_needed()
        expect(sheets.nth(index)).to_have_js_property("complete", True)
        assert sheets.nth(index).evaluate("img => img.naturalWidth") > 0
        body = page.request.get(site.url(str(sheets.nth(index).get_attribute("src")))).body()
        found = zxingcpp.read_barcodes(Image.open(io.BytesIO(body)))
        printed += [b.text for b in found if b.format == zxingcpp.BarcodeFormat.DataMatrix]
    assert sorted(str(gs1.parse_code(m).serial) for m in printed) == serials
    _no_sideways_scroll(page)
