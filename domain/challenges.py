"""Sign-in challenges (EIP-4361 messages) that cost the API nothing until they are redeemed.

A challenge is not stored when it is issued: its nonce proves it. The nonce is 16 random
hex digits followed by 32 hex digits of an HMAC-SHA256, under the master key's `challenge`
sub-key, of the random part, the address and the issue and expiry times. `read_challenge`
reads those fields back, rebuilds the whole message from them and this API's URL and chain
id (any other text is refused) and checks the HMAC and the expiry.

Only a redemption whose signature verifies writes anything: `spend_challenge` inserts the
nonce into the spent set (`api_challenges`, nonce as primary key), so of two redemptions
of one challenge the second loses at the INSERT, in any worker process. Rows are dropped
once their challenge has expired (an expired challenge is refused before the spent set is
read). A flood of `POST /v1/auth/challenge` therefore writes no row, and every route that
issues or redeems one is throttled per client address as well (`api.auth.throttle_sign_in`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlparse

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import to_checksum_address

from medledger.domain.custodial_keys import derive_key, master_key
from medledger.domain.errors import Unauthorized
from medledger.domain.services import Services
from medledger.domain.store import api_store
from medledger.indexer.store.challenges import spend_nonce

__all__ = ["Challenge", "issue_challenge", "read_challenge", "redeem_challenge", "spend_challenge"]

_NONCE = re.compile(r"^[0-9a-f]{48}$")
_ISO = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True, slots=True)
class Challenge:
    """A challenge this API issued, read back from its message."""

    message: str
    address: str
    nonce: str
    expires_at: int


def issue_challenge(services: Services, address: str) -> tuple[str, int]:
    """An EIP-4361 message for `address` to sign; returns (message, expires_at)."""
    address = to_checksum_address(address)
    issued = int(time.time())
    expires = issued + services.settings.challenge_ttl_seconds
    random_part = secrets.token_hex(8)
    nonce = random_part + _tag(services, random_part, address, issued, expires)
    return _message(services, address, nonce, issued, expires), expires


def read_challenge(services: Services, message: str) -> Challenge:
    """The live challenge `message` is, if this API issued it; else Unauthorized
    (`invalid_challenge` or `challenge_expired`). Nothing is read from the database."""
    lines = message.split("\n")
    fields = dict(line.split(": ", 1) for line in lines if ": " in line)
    nonce = fields.get("Nonce", "")
    try:
        address = lines[1]
        issued, expires = _time(fields["Issued At"]), _time(fields["Expiration Time"])
    except (IndexError, KeyError, ValueError):
        raise Unauthorized("invalid_challenge", "this message was not issued by the API") from None
    expected = _tag(services, nonce[:16], address, issued, expires)
    if (
        not _NONCE.match(nonce)
        or not hmac.compare_digest(nonce[16:], expected)
        or message != _message(services, address, nonce, issued, expires)
    ):
        raise Unauthorized("invalid_challenge", "this message was not issued by the API")
    if expires < time.time():
        raise Unauthorized("challenge_expired", "this challenge has expired; ask for a new one")
    return Challenge(message, address, nonce, expires)


def spend_challenge(services: Services, challenge: Challenge) -> None:
    """Record the challenge as used; Unauthorized `challenge_used` if it already was."""
    if not spend_nonce(
        api_store(services).engine,
        nonce=challenge.nonce,
        address=challenge.address,
        message=challenge.message,
        expires_at=challenge.expires_at,
        now=int(time.time()),
    ):
        raise Unauthorized("challenge_used", "this challenge was already used; ask for a new one")


def redeem_challenge(services: Services, message: str, signature: bytes) -> str:
    """The address that signed (personal_sign) a live, unused challenge issued to it. The
    challenge is spent only when the signature verifies."""
    challenge = read_challenge(services, message)
    try:
        signer = Account.recover_message(encode_defunct(text=message), signature=signature)
    except Exception as exc:  # malformed signatures raise several exception types
        raise Unauthorized("invalid_signature", f"the signature does not verify: {exc}") from exc
    if to_checksum_address(signer) != challenge.address:
        raise Unauthorized(
            "invalid_signature", f"the message is signed by {signer}, not {challenge.address}"
        )
    spend_challenge(services, challenge)
    return challenge.address


def _tag(services: Services, random_part: str, address: str, issued: int, expires: int) -> str:
    key = derive_key(master_key(services.settings), "challenge")
    text = f"{random_part}|{address}|{issued}|{expires}".encode()
    return hmac.new(key, text, hashlib.sha256).hexdigest()[:32]


def _message(services: Services, address: str, nonce: str, issued: int, expires: int) -> str:
    base = services.settings.public_base_url.rstrip("/")
    return (
        f"{urlparse(base).netloc or base} wants you to sign in with your Ethereum account:\n"
        f"{address}\n\n"
        "Sign in to the MedLedger partner API.\n\n"
        f"URI: {base}/v1/auth/token\n"
        "Version: 1\n"
        f"Chain ID: {services.deployment.chain_id}\n"
        f"Nonce: {nonce}\n"
        f"Issued At: {_iso(issued)}\n"
        f"Expiration Time: {_iso(expires)}"
    )


def _iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime(_ISO)


def _time(text: str) -> int:
    return int(dt.datetime.strptime(text, _ISO).replace(tzinfo=dt.UTC).timestamp())
