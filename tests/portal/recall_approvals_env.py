"""Approving a recall proposal in the portal as a second user (the maker-checker of
`domain.recall_approvals`), for the recall page tests."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.portal.conftest import PortalEnv, csrf_of
from tests.portal.regulator_env import regulator_app_client, sign_in


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
