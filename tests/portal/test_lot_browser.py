"""Lot-tracked custody in a real browser (Debian's headless Chromium, Playwright) against the
live app (tests/portal/live.py): the manufacturer commissions a lot-tracked consumable,
packs it in cases, ships serialised implants, cases and a loose quantity together, and the
distributor receives them with part of the loose lot rejected."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from medledger.sdk.ledger import case_id
from tests.lot_products import register_gauze
from tests.portal import browser_env
from tests.portal.live import LiveChain, LiveSite
from tests.portal.test_browser import new_page, sign_in

chain = browser_env.chain
site = browser_env.site
browser = browser_env.browser
__all__ = ["new_page"]


def test_a_mixed_shipment_of_implants_cases_and_a_loose_quantity_with_part_rejected(
    chain: LiveChain, site: LiveSite, new_page
) -> None:
    c = chain.consortium
    gauze = register_gauze(c, chain.chain.now(), item_reference=66101)
    implants = c.manufacturer.commission(c.lot_key, ["IMP-B1", "IMP-B2"]).value
    chain.wait_indexed()

    # 1. The manufacturer commissions 100 units of the lot and packs three cases of 10.
    maker = new_page("en-US")
    sign_in(maker, site, "manufacturer")
    maker.goto(site.url("/portal/manufacturer/commission"))
    maker.get_by_label("Lot to commission by quantity").select_option(
        label=f"{gauze.gtin} · {gauze.lot}"
    )
    maker.get_by_label("Quantity", exact=True).fill("100")
    maker.get_by_role("button", name="Commission the quantity").click()
    expect(maker.get_by_role("status")).to_contain_text("100 units of the lot commissioned.")
    chain.wait_indexed()
    maker.get_by_role("link", name="Packing").click()
    maker.get_by_label("Package level and lot").select_option(f"{gauze.case_gtin}/{gauze.lot}")
    maker.get_by_label("Serial prefix").fill("BX")
    maker.get_by_label("How many cases").fill("3")
    maker.get_by_role("button", name="Pack cases").click()
    expect(maker.get_by_role("status")).to_contain_text("Packed 3 cases")
    case_code = f"(01){gauze.case_gtin}(10){gauze.lot}(21)BX0001"
    expect(maker.locator("[data-cases]")).to_contain_text(case_code)
    chain.wait_indexed()

    # 2. One shipment: two implants, two cases and 25 loose units (40 loose are left).
    maker.get_by_role("link", name="Outbound").click()
    expect(maker.locator(f'tr[data-lot="{gauze.gtin} {gauze.lot}"] [data-available]')).to_have_text(
        "70"
    )
    maker.get_by_label("Receiver", exact=True).select_option(c.distributor.address)
    contents = [f"(01){c.gtin}(21)IMP-B1", f"(01){c.gtin}(21)IMP-B2", case_code]
    contents.append(f"(01){gauze.case_gtin}(10){gauze.lot}(21)BX0002")
    maker.get_by_label(re.compile("Codes to ship")).fill("\n".join(contents))
    loose = maker.get_by_label(re.compile("Loose quantities \\(one per line"))
    loose.fill(f"(01){gauze.gtin}(10){gauze.lot} 71")
    maker.get_by_role("button", name="Ship", exact=True).click()
    expect(maker.get_by_role("alert")).to_contain_text("Only 70 units of lot")
    maker.get_by_label(re.compile("Loose quantities \\(one per line")).fill(
        f"(01){gauze.gtin}(10){gauze.lot} 25"
    )
    maker.get_by_role("button", name="Ship", exact=True).click()
    expect(maker.get_by_role("status")).to_contain_text("is on its way")
    chain.wait_indexed()

    # 3. The distributor accepts the implants and cases and rejects 5 of the 25 loose units.
    distributor = new_page("en-US")
    sign_in(distributor, site, "distributor")
    distributor.get_by_role("link", name="Inbound", exact=True).click()
    distributor.get_by_role("link", name="Receive").first.click()
    rejected = distributor.get_by_label(re.compile(f"Rejected units of lot {gauze.lot}"))
    expect(rejected).to_have_attribute("max", "25")
    rejected.fill("5")
    distributor.get_by_label(re.compile(f"Counted units of lot {c.lot}")).fill("2")
    distributor.get_by_label(re.compile(f"Counted units of lot {gauze.lot}")).fill("20")
    distributor.get_by_label("Lowest temperature (°C)").fill("4")
    distributor.get_by_label("Highest temperature (°C)").fill("6")
    distributor.get_by_role("button", name="Confirm receipt").click()
    status = distributor.get_by_role("status")
    expect(status).to_contain_text("4 accepted, 0 rejected")
    expect(status).to_contain_text("Loose units: 20 accepted, 5 rejected.")
    admin = c.admin
    assert admin.lot_balance(gauze.lot_index, c.distributor.address) == (20, 0, 0)
    assert admin.lot_balance(gauze.lot_index, c.manufacturer.address) == (50, 0, 0)
    assert admin.item(implants[0]).holder == c.distributor.address
    assert admin.item(case_id(gauze.case_gtin, "BX0002")).holder == c.distributor.address
