"""Helpers for the partner-route tests: the real app with a generated master key, a
platform relayer granted RELAYER_ROLE, custodial keys for some demo members, and sign-in
through the real challenge/token exchange."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest
from eth_account.messages import encode_defunct
from pydantic import SecretStr

from medledger.domain.chain import vault
from medledger.sdk.ledger import Ledger
from tests.api.conftest import ApiEnv

CUSTODIAL = ("manufacturer", "distributor", "hospital", "hospital2")


@dataclass
class PartnerEnv:
    api: ApiEnv
    _tokens: dict[str, dict[str, str]] = field(default_factory=dict)

    def login(self, ledger: Ledger) -> dict[str, str]:
        """Authorization headers for `ledger`'s member, through challenge and token; a
        member signs in once per test (sign-in steps are throttled per client address, as
        a real client would find)."""
        if ledger.address not in self._tokens:
            self._tokens[ledger.address] = self._sign_in(ledger)
        return self._tokens[ledger.address]

    def _sign_in(self, ledger: Ledger) -> dict[str, str]:
        client = self.api.client
        challenge = client.post("/v1/auth/challenge", json={"address": ledger.address})
        assert challenge.status_code == 200, challenge.text
        message = challenge.json()["message"]
        signature = ledger.account.sign_message(encode_defunct(text=message)).signature
        token = client.post(
            "/v1/auth/token", json={"message": message, "signature": "0x" + signature.hex()}
        )
        assert token.status_code == 200, token.text
        return {"Authorization": f"Bearer {token.json()['access_token']}"}


@pytest.fixture
def partner(api: ApiEnv) -> PartnerEnv:
    settings = api.services.settings
    relayer = api.chain.accounts[7]
    api.services.settings = settings.model_copy(
        update={
            "master_key": SecretStr(os.urandom(32).hex()),
            "relayer_key": SecretStr("0x" + bytes(relayer.key).hex()),
        }
    )
    api.consortium.admin.grant_relayer(relayer.address)
    keys = vault(api.services)
    for name in CUSTODIAL:
        keys.put(api.consortium.by_name(name).account)
    return PartnerEnv(api)
