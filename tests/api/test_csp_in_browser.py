"""The security headers break nothing in a real browser: with the portal's
Content-Security-Policy, Chromium loads htmx, Pico CSS and siwe.js and reports no violation
on the pages a member uses (the live app of tests/portal/live.py)."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.portal import test_browser
from tests.portal.live import LiveSite, password_of

browser = test_browser.browser
chain = test_browser.chain
site = test_browser.site

PAGES = (
    "/portal/manufacturer",
    "/portal/manufacturer/commission",
    "/portal/shipments/outbound",
    "/portal/verify",
)


def test_the_portal_runs_under_its_policy_without_a_violation(
    browser: Browser, site: LiveSite
) -> None:
    context = browser.new_context(locale="en")
    page = context.new_page()
    complaints: list[str] = []  # CSP violations are console errors ("Refused to ...")
    page.on("console", lambda m: complaints.append(m.text) if "Refused" in m.text else None)
    page.on("pageerror", lambda e: complaints.append(str(e)))
    try:
        page.goto(site.url("/portal/sign-in?lang=en"))
        page.get_by_label("Username").fill("manufacturer")
        page.get_by_label("Password").fill(password_of("manufacturer"))
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.locator("header .who")).to_be_visible()
        for path in PAGES:
            answer = page.goto(site.url(path))
            assert answer is not None and answer.status == 200, path
            assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
            assert page.evaluate("typeof window.htmx") == "object", path
            # Pico's styles applied: the body has its font, not the browser default.
            assert "serif" != page.evaluate("getComputedStyle(document.body).fontFamily")
    finally:
        context.close()
    assert complaints == []
