"""Acceptance test of issue #15 (UDI master data and lot-tracked custody) in a real browser:
Debian's headless Chromium driven by Playwright against the live app (tests/portal/live.py).

Every step goes through the portal's pages, as the users would: the manufacturer imports the
shipped master-data sample, registers a lot of the lot-tracked syringe and one of the
serialised hip prosthesis, commissions the syringes by quantity and packs them into boxes of
100 (the sample's first package level), packs two hips and two boxes onto an SSCC pallet
and ships the mixed pallet with 50 loose syringes; the distributor receives with 10 of the
loose syringes rejected, breaks the pallet down and ships on;
the hospital receives and uses 25 syringes; the regulator recalls the lot in its recall
centre and sees the units outstanding per holder, and the hospital's acknowledgement once its
deployment has pulled the partner API's oversight feed; anyone opening the lot's Digital Link
reads the product's name and registration number in Chinese, then in English."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from medledger.ops.demo import data as sample_data
from medledger.ops.demo.consortium import DEMO_PREFIX
from medledger.sdk.gs1 import lot_key, make_sscc
from tests.portal import browser_env
from tests.portal.live import LiveChain, LiveSite
from tests.portal.recall_approvals_env import approve_in_browser
from tests.portal.test_browser import new_page, screenshot, sign_in

chain = browser_env.chain
site = browser_env.site
browser = browser_env.browser
__all__ = ["new_page"]

SAMPLE = Path(sample_data.__file__).parent / "master_sample.csv"  # prefix 9506000 = DEMO_PREFIX
SYRINGE, BOX = "09506000301013", "19506000301010"  # lot-tracked; a box holds 100
HIP = "09506000201016"  # serialised implant
LOT, HIP_LOT = "SY2612", "HP2612"


def register_lot(maker: Page, chain: LiveChain, gtin: str, lot: str) -> None:
    maker.get_by_label("Product", exact=True).select_option(gtin)
    maker.get_by_label("Lot number").fill(lot)
    maker.get_by_label("Production date").fill("2026-10-01")
    maker.get_by_label("Expiry date").fill("2029-09-30")
    maker.get_by_role("button", name="Register the lot").click()
    expect(maker.get_by_role("status")).to_contain_text("Saved on the ledger.")
    chain.wait_indexed()


def receive(page: Page, counted: dict[str, int], rejected: dict[str, int]) -> None:
    page.get_by_role("link", name="Inbound", exact=True).click()
    page.get_by_role("link", name="Receive").first.click()
    for lot, units in rejected.items():
        page.get_by_label(re.compile(f"Rejected units of lot {lot}")).fill(str(units))
    for lot, units in counted.items():
        page.get_by_label(re.compile(f"Counted units of lot {lot}")).fill(str(units))
    page.get_by_label("Lowest temperature (°C)").fill("4")
    page.get_by_label("Highest temperature (°C)").fill("8")
    page.get_by_role("button", name="Confirm receipt").click()


def ship(page: Page, receiver: str, codes: list[str], loose: str) -> None:
    page.get_by_role("link", name="Outbound").click()
    page.get_by_label("Receiver", exact=True).select_option(receiver)
    page.get_by_label(re.compile("Codes to ship")).fill("\n".join(codes))
    page.get_by_label(re.compile("Loose quantities \\(one per line")).fill(loose)
    page.get_by_role("button", name="Ship", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("is on its way")


def test_master_data_to_recall_and_verification_of_a_lot_tracked_consumable(
    chain: LiveChain, site: LiveSite, new_page
) -> None:
    c = chain.consortium
    lot_code = f"(01){SYRINGE}(10){LOT}"

    # 1. The manufacturer imports the sample master-data file and reads the per-row report.
    maker = new_page("en-US")
    sign_in(maker, site, "manufacturer")
    maker.goto(site.url("/portal/manufacturer/master-data"))
    maker.get_by_label("CSV, XLSX, UDID XML or ZIP file").set_input_files(str(SAMPLE))
    maker.get_by_role("button", name="Import", exact=True).click()
    job = maker.locator("#job")
    expect(job).to_have_attribute("data-finished", "true", timeout=60_000)
    expect(job).to_have_attribute("data-failed", "false")
    expect(job.get_by_role("status")).to_have_text("11 created, 0 updated, 0 unchanged, 0 refused.")
    expect(job.locator("#job-progress")).to_have_attribute("value", "11")
    chain.wait_indexed()
    maker.goto(site.url("/portal/manufacturer/master-data"))
    syringe_row = maker.locator(f'tr[data-gtin="{SYRINGE}"]')
    expect(syringe_row).to_contain_text("Sterile single-use syringe with needle")
    expect(syringe_row).to_contain_text("国械注准20153150001")

    # 2. Lots of the syringe and of the hip; 1,000 syringes by quantity, 3 boxes of 100;
    #    two hips by serial.
    maker.goto(site.url("/portal/manufacturer"))
    register_lot(maker, chain, SYRINGE, LOT)
    maker.reload()
    register_lot(maker, chain, HIP, HIP_LOT)
    maker.get_by_role("link", name="Commissioning").click()
    maker.get_by_label("Lot to commission by quantity").select_option(label=f"{SYRINGE} · {LOT}")
    maker.get_by_label("Quantity", exact=True).fill("1000")
    maker.get_by_role("button", name="Commission the quantity").click()
    expect(maker.get_by_role("status")).to_contain_text("1,000 units of the lot commissioned.")
    chain.wait_indexed()
    maker.get_by_label("Lot", exact=True).select_option(label=f"{HIP} · {HIP_LOT}")
    maker.get_by_label("Serial prefix").fill("HP")
    maker.get_by_label("How many").fill("2")
    maker.get_by_label("Digits").fill("3")
    maker.get_by_role("button", name="Commission", exact=True).click()
    expect(maker.locator("#job")).to_have_attribute("data-finished", "true", timeout=30_000)
    expect(maker.locator("#job")).to_have_attribute("data-failed", "false")
    chain.wait_indexed()
    maker.get_by_role("link", name="Packing").click()
    maker.get_by_label("Package level and lot").select_option(f"{BOX}/{LOT}")
    maker.get_by_label("Serial prefix").fill("BX")
    maker.get_by_label("How many cases").fill("3")
    maker.get_by_role("button", name="Pack cases").click()
    expect(maker.get_by_role("status")).to_contain_text("Packed 3 cases")
    box = lambda n: f"(01){BOX}(10){LOT}(21)BX{n:04d}"  # noqa: E731
    expect(maker.locator("[data-cases]")).to_contain_text(box(1))
    chain.wait_indexed()

    # 3. A mixed pallet (SSCC): two hips and two boxes packed on it, shipped to the
    #    distributor with 50 loose syringes.
    hips = [f"(01){HIP}(21)HP001", f"(01){HIP}(21)HP002"]
    pallet = make_sscc(extension=0, company_prefix=DEMO_PREFIX, serial_reference=1)
    maker.get_by_label("Company prefix").select_option(DEMO_PREFIX)
    maker.get_by_label("Case or pallet number").fill("1")
    maker.get_by_label(re.compile("Codes to pack")).fill("\n".join([*hips, box(1), box(2)]))
    maker.get_by_role("button", name="Pack", exact=True).click()
    expect(maker.get_by_role("status")).to_contain_text(f"Packed 4 items into SSCC {pallet}.")
    expect(maker.locator(f'[data-sscc="{pallet}"]')).to_be_visible()
    chain.wait_indexed()
    maker.get_by_role("link", name="Outbound").click()
    expect(maker.locator(f'tr[data-lot="{SYRINGE} {LOT}"] [data-available]')).to_have_text("700")
    ship(maker, c.distributor.address, [f"(00){pallet}"], f"{lot_code} 50")
    chain.wait_indexed()

    # 4. The distributor sees the pallet's contents per lot, receives everything but 10 of
    #    the loose syringes, and breaks the pallet down.
    distributor = new_page("en-US")
    sign_in(distributor, site, "distributor")
    distributor.get_by_role("link", name="Inbound", exact=True).click()
    distributor.get_by_role("link", name="Receive").first.click()
    on_pallet = distributor.locator("tbody tr", has_text=f"SSCC {pallet}")
    expect(on_pallet).to_have_count(2)
    expect(on_pallet.filter(has_text=f"{HIP} {HIP_LOT}").locator("td.num")).to_have_text("2")
    expect(on_pallet.filter(has_text=f"{SYRINGE} {LOT}").locator("td.num")).to_have_text("200")
    # The counted units are those of the accepted items (the pallet's); the loose ones are
    # accounted for by the rejected quantity.
    receive(distributor, {HIP_LOT: 2, LOT: 200}, {LOT: 10})
    status = distributor.get_by_role("status")
    expect(status).to_contain_text("1 accepted, 0 rejected")
    expect(status).to_contain_text("Loose units: 40 accepted, 10 rejected.")
    chain.wait_indexed()
    distributor.get_by_role("link", name="Packing").click()
    distributor.get_by_label("SSCC or code of the case or pallet").fill(pallet)
    distributor.get_by_role("button", name="Unpack").click()
    expect(distributor.get_by_role("status")).to_contain_text(
        f"Unpacked 4 items from SSCC {pallet}."
    )
    chain.wait_indexed()

    # 5. On to the hospital: one hip, one box and 30 loose; it receives and uses 25.
    ship(distributor, c.hospital.address, [hips[0], box(2)], f"{lot_code} 30")
    chain.wait_indexed()
    hospital = new_page("en-US")
    sign_in(hospital, site, "hospital")
    receive(hospital, {HIP_LOT: 1, LOT: 100}, {})
    status = hospital.get_by_role("status")
    expect(status).to_contain_text("2 accepted, 0 rejected")
    expect(status).to_contain_text("Loose units: 30 accepted, 0 rejected.")
    chain.wait_indexed()
    hospital.get_by_role("link", name="Use and stock").click()
    hospital.get_by_label(re.compile("Lots and quantities")).fill(f"{lot_code} 25")
    hospital.get_by_label("Action", exact=True).select_option("dispense")
    hospital.get_by_label("Record or reason number").fill("OP-2026-1215")
    hospital.get_by_role("button", name="Record", exact=True).click()
    expect(hospital.get_by_role("status")).to_contain_text("25 loose units recorded")
    chain.wait_indexed()
    admin = c.admin
    record = admin.lot(lot_key(SYRINGE, LOT))
    assert record is not None
    lot_index = record.lot_index
    assert admin.lot_balance(lot_index, c.hospital.address) == (5, 0, 0)
    assert admin.lot_balance(lot_index, c.distributor.address) == (10, 0, 0)

    # 6. The regulator recalls the lot in its recall centre and sees the units per holder.
    # Its deployment pulls the partner API's oversight feed (acknowledgements and master
    # records) as in production.
    with chain.serve(
        regulator=True,
        regulator_account=c.regulator.account,
        oversight_feed_url=site.base_url,
        oversight_feed_interval=0.5,
    ) as centre:
        regulator = new_page("en-US")
        sign_in(regulator, centre, "regulator")
        regulator.get_by_role("link", name="Recall centre").click()
        regulator.get_by_label("GTIN").fill(lot_code)  # the lot's code scanned in
        regulator.get_by_label("Level 2", exact=False).check()
        regulator.get_by_label("Reason", exact=False).fill("Needle burrs found in retained samples")
        regulator.get_by_label("Action required", exact=False).fill("Quarantine and return")
        regulator.get_by_label("Contact for holders").fill("NMPA recall desk")
        regulator.get_by_role("button", name="Issue the recall").click()
        # Proposed; a second regulator user approves it (maker-checker), then it is open.
        expect(regulator).to_have_url(re.compile(r"/portal/regulator/recalls\?proposed=\w+$"))
        approve_in_browser(regulator, centre, address=c.regulator.address, username="reg-qa2")
        key = lot_key(SYRINGE, LOT)
        regulator.goto(centre.url(f"/portal/regulator/recalls/{admin.lot(key).active_recall}"))
        figures = regulator.locator("#recall-progress")
        expect(figures.locator('[data-figure="outstanding"]')).to_have_text("215", timeout=20_000)
        held = regulator.locator(f'tr[data-holder="{c.distributor.address}"]')
        expect(held.locator('[data-units="outstanding"]')).to_have_text("110")
        expect(held.locator('[data-units="active"]')).to_have_text("10")
        expect(held.locator('[data-units="cases"]')).to_have_text(
            re.compile(r"^1 cases? · 100 units$")
        )
        used = regulator.locator(f'tr[data-holder="{c.hospital.address}"]')
        expect(used.locator('[data-units="outstanding"]')).to_have_text("105")
        expect(used.locator('[data-units="active"]')).to_have_text("5")
        expect(used.locator("td").nth(6)).to_have_text("25")  # dispensed
        # "Returned" counts only units back from the field: the manufacturer's 660 loose
        # units and one box of 100 never left it (domain.recalls.recall_summary).
        expect(figures.locator('[data-figure="returned"]')).to_have_text("0")

        # The hospital reads its notice, with its units and the product's name, and
        # acknowledges it; the recall centre shows the acknowledgement.
        hospital.get_by_role("link", name="Recall notices").click()
        notice = hospital.locator("article[data-recall]")
        expect(notice.locator('[data-units="outstanding"]')).to_have_text("105")
        expect(notice.locator('[data-units="active"]')).to_have_text("5")
        expect(notice.locator('[data-field="product_name"]')).to_contain_text(
            "Sterile single-use syringe with needle"
        )
        notice.get_by_label(re.compile("Note")).fill("5 loose units and the box quarantined")
        notice.get_by_role("button", name="Acknowledge the recall").click()
        expect(hospital.locator('[data-state="acknowledged"]')).to_be_visible()
        chain.wait_indexed()
        expect(figures.locator('[data-figure="acknowledged"]')).to_have_text(
            "1 / 2", timeout=20_000
        )
        regulator.reload()  # the product's name, from the master record pulled
        expect(figures.locator('[data-field="product_name"]').first).to_contain_text(
            "Sterile single-use syringe with needle"
        )
        screenshot(regulator, "acceptance-recall")

    # 7. The lot's Digital Link names the product in Chinese, then in English.
    public = new_page("zh-CN")
    public.goto(site.url(f"/01/{SYRINGE}/10/{LOT}"))
    expect(public.locator("html")).to_have_attribute("lang", "zh-CN")
    name = public.locator('[data-field="product_name"]')
    expect(name).to_have_text("一次性使用无菌注射器 带针")
    expect(public.locator("main")).to_contain_text("国械注准20153150001")
    public.goto(site.url(f"/01/{SYRINGE}/10/{LOT}?lang=en"))
    expect(public.locator("html")).to_have_attribute("lang", "en")
    expect(name).to_have_text("Sterile single-use syringe with needle")
    verdict = public.locator("[data-verdict]")
    expect(verdict).to_have_attribute("data-verdict", "recalled")
    expect(verdict).to_have_attribute("data-scope", "lot")
    expect(public.locator('[data-field="in_supply_chain"]')).to_have_text(
        "975 units of this lot are still in the supply chain."  # 1,000 less the 25 used
    )
    expect(public.locator("main")).to_contain_text("国械注准20153150001")
    screenshot(public, "acceptance-verify")
