"""Who is calling: sign-in challenges, tokens, API keys and client certificates, each
resolved to a live member (`resolve_member`). The HTTP side (the `CurrentMember`
dependency, the throttles charged to the client address) is `web.members`.

Three ways in, one answer (a member address):

- **Signed challenge** (EIP-4361 style, `domain.challenges`): a message whose nonce
  carries an HMAC, so issuing one stores nothing; redeeming checks the personal_sign
  signature, then spends the nonce (one INSERT into the spent set, so a replay loses the
  race).
- **Token**: `mlt1.<payload>.<HMAC-SHA256>` under the master key's `token` sub-key, with
  subject, method and expiry (`settings.token_ttl_seconds`).
- **API key**: `mlk_<id>_<secret>`; only SHA-256(secret) is stored; revocable. A member
  holds at most MAX_ACTIVE_API_KEYS unrevoked keys and creates at most
  MAX_API_KEYS_PER_DAY a day, and all its keys share one verification budget.
- **Client certificate** from the consortium CA, checked with `sdk.ca.verify_member`:
  passed by a TLS-terminating proxy in `settings.client_cert_header` (URL-encoded PEM), or
  posted with a challenge signed by the certificate's key (`redeem_certificate_challenge`).

Inside an organisation each person has a user (`portal.users`) with a `StaffRole`: a
clerk ships, receives and dispenses; QA also releases quarantined goods and approves
suppliers and recalls; a manager may do everything and manages the users. In regulator
mode the regulator's staff call the API with their own key, `mls_<id>_<secret>` (only
SHA-256(secret) is stored), bound to their user (`create_staff_key`, `verify_staff_key`).

Whatever the method, role and organisation are read live from the Partners contract (and
the indexer for the name): a suspended member is refused at once, even with a valid token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from eth_utils import to_checksum_address
from pydantic import BaseModel, ConfigDict, Field

from medledger.domain.api_examples import ADDRESS, SIGNATURE, example
from medledger.domain.chain import reader
from medledger.domain.challenges import (
    issue_challenge,
    read_challenge,
    redeem_challenge,
    spend_challenge,
)
from medledger.domain.custodial_keys import derive_key, master_key
from medledger.domain.errors import Forbidden, NotConfigured, NotFound, Unauthorized, Unprocessable
from medledger.domain.partner_schemas import Address, HexBytes
from medledger.domain.services import Component, Services
from medledger.domain.store import api_store
from medledger.indexer.queries.organisation_names import organisation_name
from medledger.indexer.store import api_keys, portal_users
from medledger.indexer.store.api_keys import ApiKeyRow
from medledger.sdk.ca import certificate_from_pem, verify_member
from medledger.sdk.errors import CertificateError
from medledger.sdk.model import MemberStatus, Role

__all__ = [
    "MAX_ACTIVE_API_KEYS",
    "MAX_API_KEYS_PER_DAY",
    "ApiKeyRow",
    "ChallengeRequest",
    "Member",
    "Staff",
    "StaffRole",
    "create_staff_key",
    "TokenRequest",
    "api_keys_of",
    "cached_api_key",
    "create_api_key",
    "known_api_key",
    "issue_challenge",
    "is_staff_key",
    "issue_token",
    "redeem_certificate_challenge",
    "redeem_challenge",
    "resolve_member",
    "revoke_api_key",
    "verify_api_key",
    "verify_certificate",
    "verify_staff_key",
    "verify_token",
]

TOKEN_PREFIX = "mlt1"
KEY_PREFIX = "mlk"
STAFF_KEY_PREFIX = "mls"
MAX_ACTIVE_API_KEYS = 20
MAX_API_KEYS_PER_DAY = 100


@dataclass(frozen=True, slots=True)
class Member:
    """An authenticated, currently active member."""

    address: str
    role: Role
    organisation: str | None
    method: str  # "token", "api_key" or "certificate"

    @property
    def is_regulator(self) -> bool:
        return self.role is Role.REGULATOR


class StaffRole(StrEnum):
    """A user's role inside its organisation."""

    CLERK = "clerk"
    QA = "qa"
    MANAGER = "manager"

    def covers(self, needed: StaffRole) -> bool:
        """Whether this role may do what `needed` may (a manager everything, QA a clerk's
        work too)."""
        rank = {StaffRole.CLERK: 0, StaffRole.QA: 1, StaffRole.MANAGER: 2}
        return rank[self] >= rank[needed]


@dataclass(frozen=True, slots=True)
class Staff:
    """A person acting for a member: its user name and role (the audit trail's actor)."""

    username: str
    role: StaffRole
    organisation: str | None = None  # the member address the user acts for


# ------------------------------------------------------------------ challenges


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChallengeRequest(_Strict):
    """Ask for a challenge to sign (the API's and the portal's key sign-in)."""

    model_config = example({"address": ADDRESS})

    address: Address


class TokenRequest(_Strict):
    """A challenge signed with the member key (personal_sign)."""

    model_config = example(
        {
            "message": "localhost wants you to sign in with your Ethereum account:\n"
            + ADDRESS
            + "\n...",
            "signature": SIGNATURE,
        }
    )

    message: str = Field(max_length=2000)
    signature: HexBytes


def redeem_certificate_challenge(
    services: Services, certificate_pem: str, message: str, signature: bytes
) -> str:
    """The member address of a consortium certificate whose key signed (ECDSA, SHA-256,
    DER) a live, unused challenge issued to that address; the challenge is spent only
    when the signature verifies."""
    cert, address = verify_certificate(services, certificate_pem)
    challenge = read_challenge(services, message)
    if challenge.address != address:
        raise Unauthorized("invalid_challenge", "this challenge was issued to another address")
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)  # verify_member checked it
    try:
        public_key.verify(signature, message.encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise Unauthorized(
            "invalid_signature", "the challenge is not signed by the certificate's key"
        ) from exc
    spend_challenge(services, challenge)
    return address


# ------------------------------------------------------------------ tokens


def issue_token(services: Services, address: str, *, method: str) -> tuple[str, int]:
    """A signed bearer token for `address`; returns (token, expires_at)."""
    now = int(time.time())
    expires = now + services.settings.token_ttl_seconds
    payload = json.dumps(
        {"sub": to_checksum_address(address), "amr": method, "iat": now, "exp": expires},
        separators=(",", ":"),
    ).encode()
    body = f"{TOKEN_PREFIX}.{_b64(payload)}"
    return f"{body}.{_b64(_token_mac(services, body))}", expires


def verify_token(services: Services, token: str) -> str:
    """The member address of a valid, unexpired MedLedger token; else Unauthorized."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise Unauthorized("invalid_token", "not a MedLedger token")
    body = f"{parts[0]}.{parts[1]}"
    try:
        mac, payload = _unb64(parts[2]), json.loads(_unb64(parts[1]))
    except ValueError as exc:
        raise Unauthorized("invalid_token", "the token is malformed") from exc
    if not hmac.compare_digest(mac, _token_mac(services, body)):
        raise Unauthorized("invalid_token", "the token signature does not verify")
    if not isinstance(payload, dict) or int(payload.get("exp", 0)) < time.time():
        raise Unauthorized("token_expired", "the token has expired; sign in again")
    return str(payload["sub"])


def _token_mac(services: Services, body: str) -> bytes:
    key = derive_key(master_key(services.settings), "token")
    return hmac.new(key, body.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text_: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text_ + "=" * (-len(text_) % 4))
    except Exception as exc:
        raise ValueError("bad base64") from exc


# ------------------------------------------------------------------ API keys


def create_api_key(services: Services, address: str, *, label: str) -> tuple[str, str, int]:
    """A new API key for `address`; returns (id, the full key shown once, created_at).
    422 `api_key_limit` when the member already holds MAX_ACTIVE_API_KEYS unrevoked keys
    or created MAX_API_KEYS_PER_DAY in the last day: the limits are checked by the INSERT
    itself (one statement, so concurrent creations cannot both slip under them on SQLite)."""
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    now = int(time.time())
    address = to_checksum_address(address)
    added = api_keys.add_key_within_limits(
        api_store(services).engine,
        key_id=key_id,
        address=address,
        label=label,
        secret_sha256=hashlib.sha256(secret.encode()).digest(),
        now=now,
        max_active=MAX_ACTIVE_API_KEYS,
        max_per_day=MAX_API_KEYS_PER_DAY,
    )
    if not added:
        raise Unprocessable(
            "api_key_limit",
            f"a member holds at most {MAX_ACTIVE_API_KEYS} unrevoked API keys and creates at "
            f"most {MAX_API_KEYS_PER_DAY} a day; revoke keys it no longer uses",
        )
    return key_id, f"{KEY_PREFIX}_{key_id}_{secret}", now


# How long a checked key stays trusted by `known_api_key` (a revocation waits this long).
API_KEY_CACHE_SECONDS = 60.0


# address and expiry (monotonic) by the key's SHA-256
API_KEY_CACHE: Component[dict[str, tuple[str, float]]] = Component("api_key_cache")
CONSORTIUM_CA: Component[x509.Certificate] = Component("consortium_ca_cert")


def known_api_key(services: Services, key: str) -> str:
    """The member address of a valid, unrevoked API key, remembered for a minute so the
    public verification path does not read the store on every request; else Unauthorized."""
    address = cached_api_key(services, key)
    if address is not None:
        return address
    address = verify_api_key(services, key)
    cache = services.components.get(API_KEY_CACHE, dict)
    if len(cache) >= 10_000:
        cache.clear()
    cache[_digest(key)] = (address, time.monotonic() + API_KEY_CACHE_SECONDS)
    return address


def cached_api_key(services: Services, key: str) -> str | None:
    cache = services.components.get(API_KEY_CACHE, dict)
    found = cache.get(_digest(key))
    return found[0] if found is not None and found[1] > time.monotonic() else None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def verify_api_key(services: Services, key: str) -> str:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise Unauthorized("invalid_api_key", "not a MedLedger API key")
    found = api_keys.key_secret(api_store(services).engine, parts[1])
    digest = hashlib.sha256(parts[2].encode()).digest()
    if found is None or not hmac.compare_digest(found.secret_sha256, digest):
        raise Unauthorized("invalid_api_key", "unknown API key")
    if found.revoked_at is not None:
        raise Unauthorized("api_key_revoked", "this API key was revoked")
    return found.address


def api_keys_of(services: Services, address: str) -> list[ApiKeyRow]:
    """The API keys of `address`, oldest first."""
    return api_keys.keys_of(api_store(services).engine, address)


def revoke_api_key(services: Services, key_id: str, *, address: str) -> ApiKeyRow:
    """Revoke one of `address`'s API keys (another member's key is simply not found)."""
    revoked = api_keys.revoke_key(
        api_store(services).engine, key_id, address=address, now=int(time.time())
    )
    if revoked is None:
        raise NotFound("api_key_not_found", f"no API key {key_id!r} of yours")
    return revoked


# ------------------------------------------------------------------ staff keys


def create_staff_key(services: Services, username: str, *, label: str) -> tuple[str, str]:
    """A new personal API key for the user `username`: (id, the full key, shown once)."""
    if portal_users.user_row(api_store(services).engine, username) is None:
        raise NotFound("user_not_found", f"no user {username!r}")
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    row = portal_users.StaffKeyRow(
        key_id,
        username,
        label[:200],
        hashlib.sha256(secret.encode()).digest(),
        int(time.time()),
        None,
    )
    portal_users.add_staff_key(api_store(services).engine, row)
    return key_id, f"{STAFF_KEY_PREFIX}_{key_id}_{secret}"


def is_staff_key(credential: str) -> bool:
    return credential.startswith(STAFF_KEY_PREFIX + "_")


def verify_staff_key(services: Services, key: str) -> Staff:
    """The user behind a valid, unrevoked staff key; else Unauthorized."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != STAFF_KEY_PREFIX:
        raise Unauthorized("invalid_api_key", "not a MedLedger staff key")
    engine = api_store(services).engine
    found = portal_users.staff_key(engine, parts[1])
    digest = hashlib.sha256(parts[2].encode()).digest()
    if found is None or not hmac.compare_digest(found.secret_sha256, digest):
        raise Unauthorized("invalid_api_key", "unknown staff key")
    if found.revoked_at is not None:
        raise Unauthorized("api_key_revoked", "this staff key was revoked")
    user = portal_users.user_row(engine, found.username)
    if user is None:
        raise Unauthorized("invalid_api_key", "the key's user no longer exists")
    return Staff(user.username, StaffRole(user.role), user.address)


# ------------------------------------------------------------------ certificates


def verify_certificate(services: Services, pem: str) -> tuple[x509.Certificate, str]:
    ca_file = services.settings.ca_cert_file
    if ca_file is None:
        raise NotConfigured("ca_missing", "set MEDLEDGER_API_CA_CERT_FILE to accept certificates")
    ca = services.components.get(
        CONSORTIUM_CA, lambda: certificate_from_pem(ca_file.read_bytes(), source=str(ca_file))
    )
    try:
        cert = certificate_from_pem(pem, source="client certificate")
        identity = verify_member(cert, ca_cert=ca)
    except CertificateError as exc:
        raise Unauthorized("invalid_certificate", str(exc)) from exc
    return cert, to_checksum_address(identity.address)


# ------------------------------------------------------------------ the member


def resolve_member(services: Services, address: str, *, method: str) -> Member:
    """The live member behind `address`: 403 unless the Partners contract says active."""
    record = reader(services).member(address)
    if record.status is not MemberStatus.ACTIVE:
        raise Forbidden(
            "member_not_active",
            f"{address} is {record.status.name.lower()} in the Partners contract",
        )
    with services.engine.connect() as conn:
        name = organisation_name(conn, address)
    return Member(to_checksum_address(address), record.role, name, method)
