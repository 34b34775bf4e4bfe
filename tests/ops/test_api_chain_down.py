"""With its ledger node down (killed, restarting), the API answers 503 problem+json with
Retry-After, which clients retry, instead of an opaque 500."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

MEMBER = Account.from_key("0x" + "42" * 32)


def test_a_request_that_needs_the_unreachable_chain_is_a_503_chain_unavailable(
    offline_api: TestClient,
) -> None:
    challenge = offline_api.post("/v1/auth/challenge", json={"address": MEMBER.address}).json()
    signature = MEMBER.sign_message(encode_defunct(text=challenge["message"])).signature
    answer = offline_api.post(  # the member's role is read live from the chain
        "/v1/auth/token",
        json={"message": challenge["message"], "signature": "0x" + signature.hex()},
    )
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "chain_unavailable"
    assert answer.headers["retry-after"] == "2"
