"""Portal fixtures: the real app (API + portal) over the demo consortium on eth-tester,
with a portal user for every demo organisation (password `PASSWORDS[name]`)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from medledger.app import create_app
from medledger.portal import users
from medledger.portal.users import create_user
from tests.api import partner_env
from tests.api.conftest import ApiEnv, api
from tests.api.partner_env import PartnerEnv

# Fixtures of the API suite, reused here.
__all__ = ["api", "partner"]
partner = partner_env.partner

USERS = ("manufacturer", "distributor", "logistics", "hospital", "regulator")


def password_of(name: str) -> str:
    return f"{name}-password"


@dataclass
class PortalEnv:
    api: ApiEnv

    def client(self, *, lang: str | None = None, address: str = "testclient") -> TestClient:
        """A fresh browser-like client (own cookies) connecting from `address`, optionally
        with a language cookie."""
        client = TestClient(
            create_app(self.api.services), follow_redirects=False, client=(address, 50000)
        )
        if lang:
            client.cookies.set("lang", lang)
        return client

    def add_staff(self, username: str, *, of: str, role: str) -> str:
        """A user `username` (password `password_of(username)`) of the demo organisation
        `of` with `role` (clerk, qa or manager); returns the username."""
        ledger = self.api.consortium.by_name(of)
        create_user(
            self.api.services,
            username=username,
            password=password_of(username),
            address=ledger.address,
            role=role,
        )
        return username

    def sign_in(self, name: str, *, lang: str | None = None) -> TestClient:
        client = self.client(lang=lang)
        form = client.get("/portal/sign-in")
        response = client.post(
            "/portal/sign-in",
            data={
                "username": name,
                "password": password_of(name),
                "csrf_token": csrf_of(form.text),
            },
        )
        assert response.status_code == 303, response.text
        return client


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token in the page"
    return found.group(1)


# The real scrypt hash of each demo user's password, computed once per session: the same
# user gets the same stored hash (salt included) in every test, and sign-in still checks
# passwords with the real scrypt. Saves five 0.1 s-CPU hashes per portal test.
_demo_hash = functools.cache(users.hash_password)


@pytest.fixture
def portal(partner: PartnerEnv) -> PortalEnv:
    services = partner.api.services
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(users, "hash_password", _demo_hash)
        for name in USERS:
            ledger = partner.api.consortium.by_name(name)
            create_user(
                services,
                username=name,
                password=password_of(name),
                address=ledger.address,
                custodial_key=ledger.account,
            )
    return PortalEnv(partner.api)
