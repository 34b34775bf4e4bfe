"""Across a crash: the real stack (`ops.stack`: node, indexers, partner and regulator API
processes), a keyed POST answered, the API process killed with SIGKILL and started again:
the same POST gets the same answer, replayed from the API store, and acted once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3

from medledger.ops.stack import Stack, StackConfig, start_stack
from medledger.sdk.deploy import Deployment
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import Role


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The stack with the regulator admitted by the bootstrap admin (no demo seed)."""
    data_dir: Path = tmp_path_factory.mktemp("idempotency") / "stack"
    with start_stack(StackConfig.on_free_ports(data_dir).resolved()) as stack:
        w3 = Web3(HTTPProvider(stack.chain_rpc, request_kwargs={"timeout": 60}))
        root = Ledger(w3, Deployment.load(stack.deployment_file), stack.secrets.account("admin"))
        root.admit(stack.secrets.account("regulator").address, Role.REGULATOR, "NMPA")
        yield stack


def _kill_and_restart(stack: Stack, name: str) -> None:
    supervisor = stack.supervisor
    before = supervisor.pid(name)
    supervisor.kill(name)  # SIGKILL
    supervisor.start(supervisor.spec(name))  # returns once /healthz answers
    assert supervisor.pid(name) != before


def _staff(stack: Stack) -> dict[str, str]:
    token = (stack.secrets.directory / "regulator-api-token").read_text().strip()
    return {"Authorization": f"Bearer {token}"}


def _admit(stack: Stack, account: LocalAccount, key: str) -> httpx.Response:
    body = {"member": account.address, "role": "distributor", "name": "Crash-test distributor"}
    headers = {**_staff(stack), "Idempotency-Key": key}
    with httpx.Client(base_url=stack.regulator_api, timeout=60) as http:
        return http.post("/v1/regulator/members", json=body, headers=headers)


def _sign_in(stack: Stack, account: LocalAccount) -> dict[str, str]:
    with httpx.Client(base_url=stack.partner_api, timeout=60) as http:
        challenge = http.post("/v1/auth/challenge", json={"address": account.address})
        message = challenge.json()["message"]
        signature = account.sign_message(encode_defunct(text=message)).signature.hex()
        token = http.post(
            "/v1/auth/token", json={"message": message, "signature": "0x" + signature}
        )
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_a_regulator_write_on_chain_is_replayed_after_a_crash_and_done_once(stack: Stack) -> None:
    member = Account.create()
    first = _admit(stack, member, "admit-after-crash")
    assert first.status_code == 200, first.text
    _kill_and_restart(stack, "regulator-api")
    again = _admit(stack, member, "admit-after-crash")
    assert again.headers["idempotent-replayed"] == "true"
    assert (again.status_code, again.content) == (200, first.content)
    other = _admit(stack, member, "admit-2")  # the same admission under a new key
    assert other.status_code == 409, other.text
    assert other.json()["code"] == "PartnersAlreadyMember"


def test_a_partner_post_is_replayed_after_the_api_is_killed_and_restarted(stack: Stack) -> None:
    member = Account.create()
    assert _admit(stack, member, "admit-partner").status_code == 200
    headers = {**_sign_in(stack, member), "Idempotency-Key": "erp-key-after-crash"}
    body = {"label": "erp after crash"}
    with httpx.Client(base_url=stack.partner_api, timeout=60) as http:
        first = http.post("/v1/auth/api-keys", json=body, headers=headers)
        assert first.status_code == 201, first.text
    _kill_and_restart(stack, "api")
    with httpx.Client(base_url=stack.partner_api, timeout=60) as http:
        again = http.post("/v1/auth/api-keys", json=body, headers=headers)
        keys = http.get("/v1/auth/api-keys", headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert keys.text.count("erp after crash") == 1, keys.text
