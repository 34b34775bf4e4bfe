"""The attack suite's target: the real stack (`ops.stack`), seeded with the demo consortium
as `medledger up` seeds it, started once per test session on free ports.

Every test module in `tests/security/` replays findings of the hostile-input issue against
this one running stack, as an attacker without credentials or as a member with a valid
key would, and then calls `target.assert_still_serving()`: no child died or was restarted,
and every process answers `/healthz`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from medledger.ops.demo.seed import SeedResult
from medledger.ops.stack import Stack, StackConfig, start_stack
from medledger.ops.up import seed_stack, wait_indexed, write_urls


@dataclass
class Target:
    stack: Stack
    seed: SeedResult
    data_dir: Path
    _bearers: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return self.stack.partner_api

    @property
    def regulator_api(self) -> str:
        return self.stack.regulator_api

    @property
    def rpc(self) -> str:
        assert self.stack.sequencer_rpc is not None
        return self.stack.sequencer_rpc

    @property
    def follower_rpc(self) -> str:
        assert self.stack.follower_rpc is not None
        return self.stack.follower_rpc

    def member_keys(self) -> dict[str, str]:
        """Private keys of the demo members by organisation slug (the demo's own secrets)."""
        keys: dict[str, str] = json.loads(
            (self.stack.secrets.directory / "members.json").read_text()
        )
        return keys

    def passwords(self) -> dict[str, str]:
        """Portal passwords of the demo users by organisation slug."""
        passwords: dict[str, str] = json.loads(
            (self.data_dir / "secrets" / "demo-sign-ins.json").read_text()
        )
        return passwords

    def sign_in(self, slug: str, client: httpx.Client | None = None) -> dict[str, str]:
        """Authorization headers for member `slug`, through the partner API's challenge and
        token exchange (on `client`, e.g. one bound to its own source address)."""
        account = Account.from_key(self.member_keys()[slug])
        http = client or httpx.Client(base_url=self.api, timeout=60)
        try:
            challenge = http.post("/v1/auth/challenge", json={"address": account.address})
            assert challenge.status_code == 200, challenge.text
            message = challenge.json()["message"]
            signature = account.sign_message(encode_defunct(text=message)).signature.hex()
            token = http.post(
                "/v1/auth/token", json={"message": message, "signature": "0x" + signature}
            )
            assert token.status_code == 200, token.text
        finally:
            if client is None:
                http.close()
        return {"Authorization": f"Bearer {token.json()['access_token']}"}

    def bearer(self, slug: str) -> dict[str, str]:
        """`sign_in(slug)` once per session: sign-in steps are throttled per address, and
        every module signs in from 127.0.0.1."""
        if slug not in self._bearers:
            self._bearers[slug] = self.sign_in(slug)
        return self._bearers[slug]

    def organisation(self, slug: str) -> dict[str, Any]:
        return next(o for o in self.seed.organisations if o["slug"] == slug)

    def assert_still_serving(self) -> None:
        supervisor = self.stack.supervisor
        assert supervisor.exited() == {}, f"processes died: {supervisor.exited()}"
        for name in self.stack.names():
            assert supervisor.restarts(name) == 0, f"{name} was restarted"
        for name, url in self.stack.health_urls().items():
            if url:
                answer = httpx.get(url, timeout=10)
                assert answer.status_code == 200, f"{name} /healthz answered {answer.status_code}"


@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    data_dir = tmp_path_factory.mktemp("attack") / "stack"
    config = StackConfig.on_free_ports(data_dir)
    with start_stack(config.resolved()) as stack:
        write_urls(stack)
        seed = seed_stack(stack, lambda _line: None)
        assert seed is not None
        wait_indexed(stack)
        yield Target(stack=stack, seed=seed, data_dir=data_dir)
