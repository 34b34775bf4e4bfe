"""The partner story in a real browser: Debian's headless Chromium driven by Playwright,
against the live app (tests/portal/live.py) over eth-tester with an indexer thread.

Never `playwright install`: the browser is /usr/bin/chromium. Screenshots of each role's
main page go to test-artifacts/screenshots/."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from medledger.sdk import gs1
from tests.portal import browser_env
from tests.portal.live import LiveChain, LiveSite, password_of

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


chain = browser_env.chain
site = browser_env.site
browser = browser_env.browser


@pytest.fixture
def new_page(browser: Browser) -> Iterator[object]:
    contexts = []

    def make(lang: str = "zh-CN") -> Page:
        context = browser.new_context(locale=lang)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def sign_in(page: Page, site: LiveSite, name: str) -> None:
    page.goto(site.url("/portal/sign-in?lang=en"))
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password_of(name))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("header .who")).to_be_visible()


def screenshot(page: Page, role: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{role}.png"), full_page=True)


def decode(png: bytes) -> list[zxingcpp.Barcode]:
    return list(zxingcpp.read_barcodes(Image.open(io.BytesIO(png))))


def test_the_whole_story_from_the_factory_to_the_patient(
    chain: LiveChain, site: LiveSite, new_page
) -> None:
    c = chain.consortium
    gtin = gs1.make_gtin(indicator=0, company_prefix=c.prefix, item_reference=2718)

    # 1. The manufacturer registers a product and a lot, commissions, packs, prints, ships.
    maker = new_page()
    sign_in(maker, site, "manufacturer")
    expect(maker).to_have_url(re.compile(r"/portal/manufacturer$"))
    maker.get_by_label("GTIN (14 digits)").fill(gtin)
    maker.get_by_label("Registration certificate number").fill("国械注准20263142718")
    maker.get_by_label("Certificate valid until").fill("2031-12-31")
    maker.get_by_label("Lowest storage temperature (°C)").fill("2")
    maker.get_by_label("Highest storage temperature (°C)").fill("25")
    maker.get_by_role("button", name="Register the product").click()
    expect(maker.get_by_role("status")).to_contain_text("Saved on the ledger.")
    chain.wait_indexed()
    maker.reload()
    maker.get_by_label("Product", exact=True).select_option(gtin)
    maker.get_by_label("Lot number").fill("BR2718")
    maker.get_by_label("Production date").fill("2026-10-01")
    maker.get_by_label("Expiry date").fill("2029-09-30")
    maker.get_by_role("button", name="Register the lot").click()
    expect(maker.get_by_role("status")).to_contain_text("Saved on the ledger.")
    chain.wait_indexed()
    screenshot(maker, "manufacturer")

    maker.get_by_role("link", name="Commissioning").click()
    maker.get_by_label("Lot", exact=True).select_option(label=f"{gtin} · BR2718")
    maker.get_by_label("Serial prefix").fill("BR")
    maker.get_by_label("How many").fill("12")
    maker.get_by_label("Digits").fill("4")
    maker.get_by_role("button", name="Commission", exact=True).click()
    expect(maker.locator("#job")).to_have_attribute("data-finished", "true", timeout=30_000)
    expect(maker.locator("#job-progress")).to_have_attribute("value", "12")
    expect(maker.locator("#job")).to_have_attribute("data-failed", "false")
    unit = lambda n: f"(01){gtin}(21)BR{n:04d}"  # noqa: E731

    maker.get_by_role("link", name="Packing").click()
    maker.get_by_label("Case or pallet number").fill("2718")
    maker.get_by_label(re.compile("Codes to pack")).fill("\n".join(unit(n) for n in range(1, 11)))
    maker.get_by_role("button", name="Pack", exact=True).click()
    sscc = maker.locator("[data-sscc]").get_attribute("data-sscc")
    assert sscc and len(sscc) == 18

    maker.get_by_role("link", name="Labels", exact=True).click()
    maker.get_by_label("Lot", exact=True).select_option(label=f"{gtin} · BR2718")
    maker.get_by_label("Serial numbers (one per line)").fill("BR0011\nBR0012")
    maker.get_by_role("button", name="Make the label sheet").click()
    expect(maker.get_by_role("img")).to_be_visible()
    sheet = maker.request.get(
        maker.locator("#labels-png").get_attribute("href")
        and site.url(maker.locator("#labels-png").get_attribute("href"))
    )
    codes = decode(sheet.body())
    qr = next(
        b.text
        for b in codes
        if b.format == zxingcpp.BarcodeFormat.QRCode and b.text.endswith("BR0011?17=290930")
    )
    assert qr.startswith(site.base_url + f"/01/{gtin}/10/BR2718/21/BR0011")

    maker.get_by_role("link", name="Outbound").click()
    maker.get_by_label("Receiver", exact=True).select_option(c.distributor.address)
    maker.get_by_label(re.compile("Codes to ship")).fill(f"(00){sscc}\n{unit(11)}\n{unit(12)}")
    maker.get_by_label("Documents (delivery note, temperature log)").set_input_files(
        files=[{"name": "delivery-note.txt", "mimeType": "text/plain", "buffer": b"DN-2718"}]
    )
    maker.get_by_role("button", name="Ship", exact=True).click()
    expect(maker.get_by_role("status")).to_contain_text("is on its way")
    chain.wait_indexed()

    # 2. The distributor accepts everything and ships the two loose units on.
    distributor = new_page()
    sign_in(distributor, site, "distributor")
    screenshot(distributor, "distributor")
    distributor.get_by_role("link", name="Inbound", exact=True).click()
    distributor.get_by_role("link", name="Receive").first.click()
    expect(distributor.get_by_role("link", name="delivery-note.txt")).to_be_visible()
    distributor.get_by_label(re.compile("Counted units of lot BR2718")).fill("12")
    distributor.get_by_label("Lowest temperature (°C)").fill("4")
    distributor.get_by_label("Highest temperature (°C)").fill("9.5")
    distributor.get_by_label("Inspection note").fill("seals intact")
    distributor.get_by_role("button", name="Confirm receipt").click()
    expect(distributor.get_by_role("status")).to_contain_text(
        "3 accepted, 0 rejected"
    )  # a case and two units
    chain.wait_indexed()
    distributor.get_by_role("link", name="Outbound").click()
    distributor.get_by_label("Receiver", exact=True).select_option(c.hospital.address)
    distributor.get_by_label(re.compile("Codes to ship")).fill(f"{unit(11)}\n{unit(12)}")
    distributor.get_by_role("button", name="Ship", exact=True).click()
    expect(distributor.get_by_role("status")).to_contain_text("is on its way")
    chain.wait_indexed()

    # 3. The hospital receives and implants one unit.
    hospital = new_page()
    sign_in(hospital, site, "hospital")
    hospital.get_by_role("link", name="Inbound", exact=True).click()
    hospital.get_by_role("link", name="Receive").first.click()
    hospital.get_by_label(re.compile("Counted units of lot BR2718")).fill("2")
    hospital.get_by_label("Lowest temperature (°C)").fill("5")
    hospital.get_by_label("Highest temperature (°C)").fill("8")
    hospital.get_by_role("button", name="Confirm receipt").click()
    expect(hospital.get_by_role("status")).to_contain_text("2 accepted")
    chain.wait_indexed()
    hospital.get_by_role("link", name="Use and stock").click()
    screenshot(hospital, "hospital")
    hospital.get_by_label(re.compile("Codes of the units used")).fill(unit(11))
    hospital.get_by_label("Use", exact=True).select_option("implant")
    hospital.get_by_label("Procedure or prescription number").fill("OP-2026-0042")
    hospital.get_by_role("button", name="Record the use").click()
    expect(hospital.get_by_role("status")).to_contain_text("1 units recorded as used.")
    chain.wait_indexed()

    # 4. Anyone scanning the printed QR code sees that the unit was used.
    public = new_page("zh-CN")
    public.goto(qr)
    verdict = public.locator("[data-verdict]")
    expect(verdict).to_have_attribute("data-verdict", "dispensed")
    expect(verdict).to_contain_text("已被使用或植入")
    expect(public.locator("html")).to_have_attribute("lang", "zh-CN")


def test_a_rejected_item_and_a_cold_chain_excursion_through_the_form(
    chain: LiveChain, site: LiveSite, new_page
) -> None:
    c = chain.consortium
    ids = c.manufacturer.commission(c.lot_key, ["CX0001", "CX0002", "CX0003"]).value
    shipment = c.manufacturer.ship(c.logistics.address, ids).value
    chain.wait_indexed()
    page = new_page("en-US")
    sign_in(page, site, "logistics")
    screenshot(page, "logistics")
    page.goto(site.url(f"/portal/shipments/inbound/{shipment}"))
    page.get_by_label("Reject CX0002").check()
    counted = page.get_by_label(re.compile(f"Counted units of lot {c.lot}"))
    counted.fill("3")
    page.get_by_label("Lowest temperature (°C)").fill("3")
    page.get_by_label("Highest temperature (°C)").fill("29.5")
    page.get_by_label("Minutes outside the storage range").fill("40")
    page.get_by_role("button", name="Confirm receipt").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The counted units differ")  # 3 counted, 2 accepted
    expect(page.get_by_label("Reject CX0002")).to_be_checked()  # kept as typed
    expect(page.get_by_label("Highest temperature (°C)")).to_have_value("29.5")
    page.get_by_label(re.compile(f"Counted units of lot {c.lot}")).fill("2")
    page.get_by_role("button", name="Confirm receipt").click()
    status = page.locator("[data-quarantined]")
    expect(status).to_have_attribute("data-quarantined", "true")
    expect(status).to_contain_text("2 accepted, 1 rejected")
    assert c.logistics.item(ids[0]).status.name == "QUARANTINED"
    assert c.logistics.item(ids[1]).holder == c.manufacturer.address  # rejected: returned


def test_the_language_switch_and_keyboard_use(chain: LiveChain, site: LiveSite, new_page) -> None:
    page = new_page("zh-CN")
    page.goto(site.url("/portal/sign-in"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.goto(site.url("/portal/verify"))  # the choice is remembered
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto(site.url("/portal/sign-in"))

    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    page.get_by_label("Username").focus()
    page.keyboard.type("hospital2")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(password_of("hospital2"))
    page.keyboard.press("Enter")
    expect(page.locator("header .who")).to_contain_text("Huashan Hospital")
    page.get_by_role("link", name="中文").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("使用与库存")

    for path in (
        "/portal/hospital",
        "/portal/shipments/inbound",
        "/portal/hospital/adverse-events",
    ):
        page.goto(site.url(path))
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                 .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                 .map(el => el.name || el.id)"""
        )
        assert unlabelled == [], (path, unlabelled)
