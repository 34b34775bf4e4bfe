"""QA release of quarantined goods in a real browser (Debian's headless Chromium,
Playwright) against the live app: a clerk is not offered the release, one QA user proposes
it, a second approves it on "Awaiting approval", and only then do the units leave
quarantine; the header says who is signed in."""

from __future__ import annotations

from playwright.sync_api import expect

from medledger.portal.users import create_user
from tests.lot_products import deliver, register_gauze
from tests.portal import browser_env
from tests.portal.live import LiveChain, LiveSite, password_of
from tests.portal.test_browser import new_page, sign_in

chain = browser_env.chain
site = browser_env.site
browser = browser_env.browser
__all__ = ["new_page"]


def test_a_qa_user_releases_quarantined_goods_with_a_second_qa_and_a_clerk_cannot(
    chain: LiveChain, site: LiveSite, new_page
) -> None:
    c = chain.consortium
    gauze = register_gauze(c, chain.chain.now(), item_reference=66301)
    deliver(c, gauze, c.distributor, 10)
    for name, role, display in (("dist-clerk", "clerk", "王五"), ("dist-qa1", "qa", "张三"),
                                ("dist-qa2", "qa", "李四")):  # fmt: skip
        create_user(site.services, username=name, password=password_of(name),
                    address=c.distributor.address, display_name=display, role=role)  # fmt: skip
    chain.wait_indexed()
    line = f"{gauze.gtin} {gauze.lot} 4"

    clerk = new_page("en-US")
    sign_in(clerk, site, "dist-clerk")
    clerk.goto(site.url("/portal/distributor?lang=en"))
    expect(clerk.locator("li.signed-in")).to_have_text("Signed in as 王五 (Clerk)")
    options = clerk.get_by_label("Action", exact=True).locator("option")
    expect(options).to_have_count(2)
    expect(clerk.get_by_role("link", name="Awaiting approval")).to_have_count(0)
    clerk.get_by_label("Lots and quantities", exact=False).fill(line)
    clerk.get_by_label("Action", exact=True).select_option("quarantine")
    clerk.get_by_role("button", name="Record", exact=True).click()
    expect(clerk.get_by_role("status")).to_contain_text("4 loose units recorded")
    chain.wait_indexed()
    assert c.admin.lot_balance(gauze.lot_index, c.distributor.address) == (6, 4, 0)

    qa1 = new_page("zh-CN")
    sign_in(qa1, site, "dist-qa1")
    qa1.goto(site.url("/portal/distributor?lang=zh"))
    expect(qa1.locator("li.signed-in")).to_have_text("当前用户：张三 (质量)")
    qa1.get_by_label("批号与数量", exact=False).fill(line)
    qa1.get_by_label("操作", exact=True).select_option("release")
    qa1.get_by_role("button", name="记录", exact=True).click()
    expect(qa1.get_by_role("status")).to_contain_text("待复核")
    assert c.admin.lot_balance(gauze.lot_index, c.distributor.address) == (6, 4, 0)

    qa2 = new_page("en-US")
    sign_in(qa2, site, "dist-qa2")
    qa2.get_by_role("link", name="Awaiting approval").click()
    row = qa2.locator('tr[data-kind="release_lots"]')
    expect(row).to_contain_text("dist-qa1")
    row.get_by_role("button", name="Approve").click()
    expect(qa2.get_by_role("status")).to_contain_text("Approved and done.")
    expect(qa2.locator('tr[data-state="approved"]')).to_contain_text("dist-qa2")
    chain.wait_indexed()
    assert c.admin.lot_balance(gauze.lot_index, c.distributor.address) == (10, 0, 0)
