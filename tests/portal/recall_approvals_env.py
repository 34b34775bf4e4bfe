"""Approving a recall proposal in the portal as a second user (the maker-checker of
`domain.recall_approvals`), for the recall page tests."""

from __future__ import annotations

from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from medledger.portal.users import create_user
from tests.portal.conftest import PortalEnv, csrf_of
from tests.portal.live import LiveSite, password_of
from tests.portal.regulator_env import regulator_app_client, sign_in
from tests.portal.test_browser import sign_in as sign_in_page


def approval_of(location: str) -> str:
    """The approval id a proposing POST redirected to (`...?proposed=<id>`)."""
    return location.rsplit("proposed=", 1)[1]


def approve(client: TestClient, location: str, *, expect: int = 200) -> str:
    """Approve, as `client`, the proposal a proposing POST redirected to; the page."""
    approval_id = approval_of(location)
    page = client.get("/portal/approvals")
    assert f'data-approval="{approval_id}"' in page.text
    done = client.post(
        f"/portal/approvals/{approval_id}/approve", data={"csrf_token": csrf_of(page.text)}
    )
    assert done.status_code == expect, done.text
    return done.text


def regulator_checker(portal: PortalEnv, username: str = "reg-checker") -> TestClient:
    """A second QA user of the regulator, signed in to the regulator-mode portal."""
    portal.add_staff(username, of="regulator", role="qa")
    return sign_in(regulator_app_client(portal), username)


def approve_in_browser(page: Page, site: LiveSite, *, address: str, username: str) -> None:
    """In a new browser context of `page`'s browser, a second QA user `username` of the
    organisation `address` signs in to `site` and approves the one pending proposal."""
    create_user(
        site.services, username=username, password=password_of(username), address=address,
        role="qa",
    )  # fmt: skip
    browser = page.context.browser
    assert browser is not None
    context = browser.new_context(locale="en-GB")
    try:
        checker = context.new_page()
        sign_in_page(checker, site, username)
        checker.goto(site.url("/portal/approvals?lang=en"))
        row = checker.locator('tr[data-kind^="recall_"]')
        expect(row).to_have_count(1)
        row.get_by_role("button", name="Approve").click()
        expect(checker.get_by_role("status")).to_contain_text("Approved and done.")
    finally:
        context.close()
