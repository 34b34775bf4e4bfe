"""Acceptance test of issue #16 (GSP records people can read) in a real browser: Debian's
headless Chromium driven by Playwright against the live app (tests/portal/live.py).

A distributor's manager approves the manufacturer as a supplier (首营企业) with the licence
copy attached, after reading its licence in clear, and sets its policy to hold what is not
approved; the product itself is not yet approved (首营品种), so the clerk's receipt, with a
full acceptance record (验收记录), lands in quarantine. The clerk cannot release it; a QA user
proposes the release and the manager approves it (maker-checker). The goods go on to the
hospital. The manufacturer's QA user recalls the lot with a reason and a second QA user
approves; the hospital reads the reason and the required action and acknowledges, signed on
the ledger. The regulator exports the recall report and the distributor's acceptance records
for the month, as XLSX and PDF, opened here and verified."""

from __future__ import annotations

import io
import re
import time

from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from medledger.domain import records
from medledger.domain.inspection_exports import verify_export
from medledger.domain.records import RecordKind
from medledger.portal.users import create_user
from medledger.sdk.dates import day_of
from medledger.sdk.gs1 import Udi
from medledger.sdk.ledger import Ledger
from tests.portal import browser_env
from tests.portal.live import LiveChain, LiveSite, password_of
from tests.portal.recall_approvals_env import approve_in_browser
from tests.portal.test_browser import new_page, screenshot, sign_in

chain = browser_env.chain
site = browser_env.site
browser = browser_env.browser
__all__ = ["new_page"]

LICENCE_COPY = b"%PDF-1.4\n% licence copy of the manufacturer, checked 2026-12\n"
REASON = "包装密封可能失效 Seal of the sterile pouch may fail"
ACTION = "立即隔离并退回生产企业 Quarantine at once and return to the manufacturer"
REGISTRATION = "国械注准20263130077"
SPEC = "3.0 x 18 mm"
HOLD = 1  # Partners.ApprovalPolicy.Hold


def _staff(site: LiveSite, member: Ledger, username: str, role: str, display: str) -> None:
    create_user(
        site.services, username=username, password=password_of(username),
        address=member.address, display_name=display, role=role,
    )  # fmt: skip


def _codes(gtin: str, lot: str, serials: list[str]) -> str:
    return "\n".join(Udi(gtin=gtin, serial=s, lot=lot).gs1_payload() for s in serials)


def _sheet(content: bytes) -> list[tuple[object, ...]]:
    return list(load_workbook(io.BytesIO(content)).worksheets[0].iter_rows(values_only=True))


def _pdf_text(content: bytes) -> str:
    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)


def _wait_for_records(site: LiveSite, regulator: str, *kinds: RecordKind) -> None:
    deadline = time.monotonic() + 30
    while not all(
        records.list_for(site.services, reader=regulator, regulator=True, kind=k) for k in kinds
    ):
        assert time.monotonic() < deadline, f"the regulator's deployment never pulled {kinds}"
        time.sleep(0.2)


def _download(page: Page, button: str, *, form: str) -> bytes:
    with page.expect_download() as download:
        page.locator(form).get_by_role("button", name=button).click()
    return download.value.path().read_bytes()


def test_gsp_records_from_supplier_approval_to_the_inspectors_exports(
    chain: LiveChain, site: LiveSite, new_page
) -> None:
    c = chain.consortium
    _staff(site, c.distributor, "dist-clerk", "clerk", "王五")
    _staff(site, c.distributor, "dist-qa", "qa", "张三")
    _staff(site, c.manufacturer, "mk-qa", "qa", "赵六")
    serials = ["GSP1", "GSP2", "GSP3"]
    units = c.manufacturer.commission(c.lot_key, serials).value
    chain.wait_indexed()

    # 1. The distributor's manager reads the manufacturer's licence in clear and approves it
    # as a supplier with the licence copy; what is not approved is held for QA review.
    manager = new_page("en-US")
    sign_in(manager, site, "distributor")
    manager.get_by_role("link", name="Supplier & product approvals").click()
    manager.locator("#policy-form").get_by_label("When a supplier or product").select_option("hold")
    manager.locator("#policy-form").get_by_role("button", name="Save policy").click()
    expect(manager.get_by_role("status")).to_contain_text("Policy saved.")
    assert int(c.distributor.approval_policy(c.distributor.address)) == HOLD
    manager.get_by_label("Supplier", exact=True).select_option(c.manufacturer.address)
    manager.get_by_role("button", name="Show licences").click()
    expect(manager.locator("main")).to_contain_text("LIC-")  # the licence number, in clear
    approve = manager.locator("#approve-supplier")
    approve.get_by_label("Document").select_option("licence")
    approve.get_by_label("Copies checked").set_input_files(
        files=[{"name": "licence.pdf", "mimeType": "application/pdf", "buffer": LICENCE_COPY}]
    )
    approve.get_by_role("button", name="Approve supplier").click()
    expect(manager.get_by_role("status")).to_contain_text("Supplier approved.")
    assert c.distributor.supplier_approval(c.distributor.address, c.manufacturer.address)
    assert c.distributor.product_approval(c.distributor.address, c.gtin) is None

    # 2. The manufacturer ships three units; the clerk receives two with a full acceptance
    # record and rejects one. The product is not approved yet: the two land in quarantine.
    shipment = c.manufacturer.ship(c.distributor.address, units).value
    chain.wait_indexed()
    clerk = new_page("en-US")
    sign_in(clerk, site, "dist-clerk")
    clerk.goto(site.url(f"/portal/shipments/inbound/{shipment}?lang=en"))
    clerk.get_by_label("Reject GSP3", exact=False).check()
    clerk.get_by_label(re.compile(f"Counted units of lot {c.lot}")).fill("2")
    clerk.get_by_label(re.compile(f"Conclusion for lot {c.lot}")).select_option("qualified")
    clerk.get_by_label("Specification / model").fill(SPEC)
    clerk.get_by_label("Registration number").fill(REGISTRATION)
    clerk.get_by_label("Lowest temperature (°C)").fill("4")
    clerk.get_by_label("Highest temperature (°C)").fill("7")
    clerk.get_by_label("Minutes outside the storage range").fill("0")
    clerk.get_by_label("Temperature on arrival (°C)").fill("5.5")
    clerk.get_by_label("Inspection note").fill("GSP3 外包装破损，拒收")
    clerk.get_by_role("button", name="Confirm receipt").click()
    status = clerk.get_by_role("status")
    expect(status).to_contain_text("2 accepted, 1 rejected")
    expect(status).to_contain_text("held in quarantine for QA review")
    chain.wait_indexed()
    assert [c.distributor.item(u).status.name for u in units[:2]] == ["QUARANTINED"] * 2
    clerk.locator("#acceptance-record-link").click()
    line = clerk.locator("#acceptance-lines tbody tr")
    expect(line).to_have_attribute("data-conclusion", "qualified")
    expect(line).to_contain_text(REGISTRATION)
    expect(line).to_contain_text(SPEC)
    expect(clerk.locator("[data-inspector]")).to_have_text("dist-clerk")

    # 3. The clerk may not release quarantined goods; a QA user proposes, the manager approves.
    codes = _codes(c.gtin, c.lot, serials[:2])
    clerk.goto(site.url("/portal/distributor?lang=en"))
    actions = clerk.get_by_label("Action", exact=True).locator("option")
    expect(actions).to_have_count(2)  # quarantine, destroy: no release for a clerk
    token = clerk.locator('input[name="csrf_token"]').first.get_attribute("value")
    refused = clerk.request.post(
        site.url("/portal/approvals/release-units?lang=en"),
        form={"csrf_token": token or "", "units": codes},
        headers={"Origin": site.base_url, "Referer": site.url("/portal/approvals")},
    )
    assert refused.status == 403 and "Your role may not do this" in refused.text()
    qa = new_page("zh-CN")
    sign_in(qa, site, "dist-qa")
    qa.goto(site.url("/portal/approvals?lang=zh"))
    qa.locator('form[data-form="release-units"] textarea').fill(codes)
    qa.locator('form[data-form="release-units"] button').click()
    expect(qa.get_by_role("status")).to_contain_text("2")
    assert [c.distributor.item(u).status.name for u in units[:2]] == ["QUARANTINED"] * 2
    manager.goto(site.url("/portal/approvals?lang=en"))
    row = manager.locator('tr[data-kind="release_units"]')
    expect(row).to_contain_text("dist-qa")
    row.get_by_role("button", name="Approve").click()
    expect(manager.get_by_role("status")).to_contain_text("Approved and done.")
    assert [c.distributor.item(u).status.name for u in units[:2]] == ["ACTIVE"] * 2

    # 4. On to the hospital.
    c.hospital.receive(
        c.distributor.ship(c.hospital.address, units[:1]).value, temp_min=40, temp_max=60
    )
    chain.wait_indexed()

    # 5. The manufacturer's QA user recalls the lot with a reason; a second QA user approves.
    maker = new_page("en-US")
    sign_in(maker, site, "mk-qa")
    maker.goto(site.url("/portal/manufacturer/recalls?lang=en"))
    form = maker.locator("#recall-form")
    form.get_by_label("GTIN").fill(c.gtin)
    form.get_by_label("Lot number").fill(c.lot)
    form.locator('input[name="level"][value="2"]').check()
    form.get_by_label("Reason for the recall").fill(REASON)
    form.get_by_label("Action required of holders").fill(ACTION)
    form.get_by_label("Contact for holders").fill("质量部 QA desk 400-000-0000")
    form.get_by_role("button", name="Issue the recall").click()
    expect(maker).to_have_url(re.compile(r"proposed=\w+"))
    assert c.manufacturer.lot(c.lot_key).active_recall == 0  # type: ignore[union-attr]
    approve_in_browser(maker, site, address=c.manufacturer.address, username="mk-qa2")
    recall_id = c.manufacturer.lot(c.lot_key).active_recall  # type: ignore[union-attr]
    assert recall_id != 0
    chain.wait_indexed()

    # 6. The hospital reads the reason and the action, and acknowledges (signed on chain).
    hospital = new_page("zh-CN")
    sign_in(hospital, site, "hospital")
    hospital.goto(site.url("/portal/recalls?lang=zh"))
    notice = hospital.locator(f'article[data-recall="{recall_id}"]')
    expect(notice.locator('[data-field="reason"]')).to_have_text(REASON)
    expect(notice.locator('[data-field="action"]')).to_have_text(ACTION)
    notice.locator('textarea[name="note"]').fill("已隔离 1 支，已通知手术室")
    notice.get_by_role("button", name="确认收到召回通知").click()
    expect(notice.locator('[data-state="acknowledged"]')).to_be_visible()
    chain.wait_indexed()
    screenshot(hospital, "gsp-recall-notice")

    # 7. The regulator exports the recall report and the distributor's acceptance records.
    month = day_of(int(chain.chain.w3.eth.get_block("latest")["timestamp"])).strftime("%Y-%m")
    # Its own deployment (its own store) pulls the sealed records through the oversight feed.
    with chain.serve(
        regulator=True,
        regulator_account=c.regulator.account,
        oversight_feed_url=site.base_url,
        oversight_feed_interval=0.5,
    ) as centre:
        _wait_for_records(
            centre, c.regulator.address, RecordKind.ACCEPTANCE, RecordKind.RECALL_NOTICE
        )
        regulator = new_page("en-US")
        sign_in(regulator, centre, "regulator")
        regulator.get_by_role("link", name="Inspection exports").click()
        regulator.get_by_label("Member").select_option(c.distributor.address)
        regulator.get_by_label("Records").select_option(label="Acceptance records")
        regulator.get_by_label("Period").fill(month)
        members_form = "form:has(#f-period)"
        rows = _sheet(_download(regulator, "Download XLSX", form=members_form))
        assert rows[0][0] == "验收日期" and rows[1][0] == "Acceptance date"
        accepted = [dict(zip(rows[0], r, strict=True)) for r in rows[2:]]
        (mine,) = [r for r in accepted if r["验收人员"] == "dist-clerk"]
        assert mine["合格数量"] == 2 and mine["拒收数量"] == 1
        assert mine["验收结论"] == "合格 Qualified" and mine["备注"] == "GSP3 外包装破损，拒收"
        pdf = _download(regulator, "Download PDF", form=members_form)
        text = _pdf_text(pdf)
        assert "验收记录" in text and c.gtin in text and "dist-clerk" in text
        checked = verify_export(None, pdf)
        assert checked.valid and checked.signer == c.regulator.address

        regulator.get_by_label("Recall", exact=True).select_option(str(recall_id))
        report = _download(regulator, "Download PDF", form="#recall-report-form")
        text = _pdf_text(report).replace("\n", "")  # narrow cells wrap
        assert "召回总结报告" in text and c.hospital.address in text
        assert verify_export(None, report).signer == c.regulator.address
        rows = _sheet(_download(regulator, "Download XLSX", form="#recall-report-form"))
        holders = {r[rows[0].index("持有单位地址")]: dict(zip(rows[0], r, strict=True))
                   for r in rows[2:]}  # fmt: skip
        hospital_row = holders[c.hospital.address]
        assert hospital_row["未处理数量"] == 1 and hospital_row["召回原因"] == REASON
        assert holders[c.distributor.address]["未处理数量"] == 1
        screenshot(regulator, "gsp-exports")
