"""The portal in regulator mode over the same chain, indexer and portal users as the
`portal` fixture's partner-mode app (as `tests.api.regulator_mode` does for the API)."""

from __future__ import annotations

import dataclasses

from fastapi.testclient import TestClient

from medledger.app import create_app
from medledger.domain.services import Components
from tests.portal.conftest import PortalEnv, csrf_of, password_of


def regulator_app_client(
    portal: PortalEnv, *, lang: str | None = "en", **settings_update: object
) -> TestClient:
    api = portal.api
    settings = api.services.settings.model_copy(update={"regulator": True, **settings_update})
    services = dataclasses.replace(api.services, settings=settings, components=Components())
    services.regulator_account = api.consortium.regulator.account
    client = TestClient(create_app(services), follow_redirects=False)
    if lang:
        client.cookies.set("lang", lang)
    return client


def sign_in(client: TestClient, name: str) -> TestClient:
    form = client.get("/portal/sign-in")
    response = client.post(
        "/portal/sign-in",
        data={"username": name, "password": password_of(name), "csrf_token": csrf_of(form.text)},
    )
    assert response.status_code == 303, response.text
    return client


def form(client: TestClient, url: str, page: str, **fields: object) -> object:
    """POST a portal form with the page's CSRF token."""
    return client.post(url, data={"csrf_token": csrf_of(page), **fields})
