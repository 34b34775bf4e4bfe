"""Every answer of the API and the portal carries the security headers, a 500 included,
and says nothing of what failed."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.conftest import ApiEnv

PATHS = (
    "/healthz",
    "/v1/nowhere",
    "/portal/sign-in",
    "/portal/verify",
    "/portal/static/portal.css",
)


@pytest.mark.parametrize("path", PATHS)
def test_every_answer_forbids_framing_sniffing_and_referrers(api: ApiEnv, path: str) -> None:
    response = api.client.get(path)
    assert response.status_code in (200, 404)
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self';" in policy  # no inline script on any page
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in response.headers


def test_hsts_is_sent_only_over_https(api: ApiEnv) -> None:
    app = api.client.app
    secure = TestClient(app, base_url="https://testserver").get("/portal/sign-in")
    assert secure.headers["strict-transport-security"].startswith("max-age=")


def test_the_api_docs_page_may_load_fastapis_cdn_but_not_be_framed(api: ApiEnv) -> None:
    response = api.client.get("/docs")
    assert response.status_code == 200
    assert "https://cdn.jsdelivr.net" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


def test_an_unexpected_error_is_a_bare_problem_json_500_with_the_headers(api: ApiEnv) -> None:
    app = api.client.app
    assert isinstance(app, FastAPI)

    @app.get("/test-only/boom")
    def boom() -> None:
        raise RuntimeError("secret internals: /etc/medledger/master.key")

    response = TestClient(app, raise_server_exceptions=False).get("/test-only/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "internal_error"
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["x-frame-options"] == "DENY"
