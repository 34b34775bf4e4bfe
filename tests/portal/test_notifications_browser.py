"""The notification centre in a real browser (Chromium, Playwright) over the live app:
an inbound shipment the manufacturer sends appears on the distributor's open page without
a reload, with its kind in words and a link to the receiving form; the unread count in
the menu follows, per user; "mark all as read" clears it; the filter by kind keeps
only that kind."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.portal import browser_env
from tests.portal.live import LiveChain, LiveSite
from tests.portal.test_browser import new_page, sign_in

chain = browser_env.chain
site = browser_env.site
browser = browser_env.browser
__all__ = ["new_page"]


def _sign_in(page: Page, site: LiveSite, name: str, lang: str) -> None:
    sign_in(page, site, name)
    page.goto(site.url(f"/portal/notifications?lang={lang}"))


def test_an_inbound_shipment_appears_live_and_is_marked_read(
    chain: LiveChain, site: LiveSite, new_page
) -> None:
    c = chain.consortium
    page = new_page("zh-CN")
    _sign_in(page, site, "distributor", "zh")
    expect(page.locator("h1")).to_have_text("通知")
    rows = page.locator("#notifications tr")
    before = rows.count()

    ids = c.manufacturer.commission(c.lot_key, ["NT0001", "NT0002"]).value
    shipment = c.manufacturer.ship(c.distributor.address, ids).value
    chain.wait_indexed()

    inbound = page.locator('#notifications tr[data-kind="shipment.inbound"]').first
    expect(inbound).to_contain_text("新的到货", timeout=15_000)  # no reload
    expect(inbound).to_contain_text("未读")
    expect(inbound.get_by_role("link", name="查看")).to_have_attribute(
        "href", f"/portal/shipments/inbound/{shipment}"
    )
    assert rows.count() > before
    badge = page.locator("#nav-unread")
    expect(badge).to_be_visible()
    assert int(badge.get_attribute("data-count") or "0") >= 1

    other = new_page("en-US")  # another user of another member: its own count and list
    _sign_in(other, site, "hospital", "en")
    expect(other.locator('#notifications tr[data-kind="shipment.inbound"]')).to_have_count(0)

    page.get_by_role("button", name="全部标为已读").click()
    expect(page.locator("#nav-unread")).to_be_hidden(timeout=10_000)
    expect(page.locator("#notifications tr.unread")).to_have_count(0)

    page.goto(site.url("/portal/notifications?kind=recall.issued&lang=en"))
    expect(page.locator("#notifications tr")).to_have_count(0)
    expect(page.get_by_text("No notifications yet.")).to_be_visible()
    c.distributor.receive(shipment, temp_min=40, temp_max=60)
    chain.wait_indexed()
    page.goto(site.url("/portal/notifications?kind=shipment.received"))
    received = page.locator('#notifications tr[data-kind="shipment.received"]').first
    expect(received).to_contain_text("Shipment received")
    expect(page.locator("#nav-unread")).to_be_visible(timeout=10_000)  # new since marked read
