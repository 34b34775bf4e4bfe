"""Who is calling: sign-in challenges, tokens, API keys, client certificates, and the
`CurrentMember` dependency every partner route takes.

Three ways in, one answer (a member address):

- **Signed challenge** (EIP-4361 style): `issue_challenge` stores a single-use nonce with
  its exact message; `redeem_challenge` checks the personal_sign signature, marks the nonce
  used (one UPDATE, so a replay loses the race) and returns the signer.
- **Token**: `mlt1.<payload>.<HMAC-SHA256>` under the master key's `token` sub-key, with
  subject, method and expiry (`settings.token_ttl_seconds`).
- **API key**: `mlk_<id>_<secret>`; only SHA-256(secret) is stored; revocable.
- **Client certificate** from the consortium CA, checked with `sdk.ca.verify_member`:
  passed by a TLS-terminating proxy in `settings.client_cert_header` (URL-encoded PEM), or
  posted with a challenge signed by the certificate's key (`redeem_certificate_challenge`).

Whatever the method, role and organisation are read live from the Partners contract (and
the indexer for the name): a suspended member is refused at once, even with a valid token.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import unquote, urlparse

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import to_checksum_address
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import delete, insert, select, text, update

from api.chain import reader
from api.custody import derive_key, master_key
from api.deps import ServicesDep
from api.errors import Forbidden, NotConfigured, Unauthorized
from api.services import Services
from api.store import api_keys, api_store, challenges
from sdk.ca import certificate_from_pem, verify_member
from sdk.errors import CertificateError
from sdk.model import MemberStatus, Role

__all__ = [
    "CurrentMember",
    "Member",
    "create_api_key",
    "known_api_key",
    "issue_challenge",
    "issue_token",
    "redeem_certificate_challenge",
    "redeem_challenge",
    "resolve_member",
]

TOKEN_PREFIX = "mlt1"
KEY_PREFIX = "mlk"

_bearer = HTTPBearer(auto_error=False, description="token from POST /v1/auth/token")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="machine clients")


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


# ------------------------------------------------------------------ challenges


def issue_challenge(services: Services, address: str) -> tuple[str, int]:
    """An EIP-4361 message for `address` to sign; returns (message, expires_at)."""
    settings = services.settings
    address = to_checksum_address(address)
    nonce = secrets.token_hex(16)
    now = int(time.time())
    expires = now + settings.challenge_ttl_seconds
    base = settings.public_base_url.rstrip("/")
    message = (
        f"{urlparse(base).netloc or base} wants you to sign in with your Ethereum account:\n"
        f"{address}\n\n"
        "Sign in to the MedLedger partner API.\n\n"
        f"URI: {base}/v1/auth/token\n"
        "Version: 1\n"
        f"Chain ID: {services.deployment.chain_id}\n"
        f"Nonce: {nonce}\n"
        f"Issued At: {_iso(now)}\n"
        f"Expiration Time: {_iso(expires)}"
    )
    with api_store(services).engine.begin() as conn:
        # Spent or expired challenges are kept an hour (for audit), then dropped.
        conn.execute(delete(challenges).where(challenges.c.expires_at < now - 3600))
        conn.execute(
            insert(challenges).values(
                nonce=nonce, address=address, message=message, expires_at=expires, used=False
            )
        )
    return message, expires


def redeem_challenge(services: Services, message: str, signature: bytes) -> str:
    """The address that signed (personal_sign) a live, unused challenge issued to it; the
    nonce is spent either way."""
    address = _spend_challenge(services, message)
    try:
        signer = Account.recover_message(encode_defunct(text=message), signature=signature)
    except Exception as exc:  # malformed signatures raise several exception types
        raise Unauthorized("invalid_signature", f"the signature does not verify: {exc}") from exc
    if to_checksum_address(signer) != address:
        raise Unauthorized("invalid_signature", f"the message is signed by {signer}, not {address}")
    return address


def redeem_certificate_challenge(
    services: Services, certificate_pem: str, message: str, signature: bytes
) -> str:
    """The member address of a consortium certificate whose key signed (ECDSA, SHA-256,
    DER) a live, unused challenge issued to that address."""
    cert, address = _verify_certificate(services, certificate_pem)
    if _spend_challenge(services, message) != address:
        raise Unauthorized("invalid_challenge", "this challenge was issued to another address")
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)  # verify_member checked it
    try:
        public_key.verify(signature, message.encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise Unauthorized(
            "invalid_signature", "the challenge is not signed by the certificate's key"
        ) from exc
    return address


def _spend_challenge(services: Services, message: str) -> str:
    """Mark the challenge in `message` used; its address if it was live and unused."""
    nonce = next(
        (ln.removeprefix("Nonce: ") for ln in message.splitlines() if ln.startswith("Nonce: ")),
        None,
    )
    if nonce is None:
        raise Unauthorized("invalid_challenge", "the message has no `Nonce:` line")
    with api_store(services).engine.begin() as conn:
        row = conn.execute(
            select(challenges.c.address, challenges.c.message, challenges.c.expires_at).where(
                challenges.c.nonce == nonce
            )
        ).first()
        if row is None or row[1] != message:
            raise Unauthorized("invalid_challenge", "this message was not issued by the API")
        spent = conn.execute(
            update(challenges)
            .where(challenges.c.nonce == nonce, challenges.c.used.is_(False))
            .values(used=True)
        )
    if spent.rowcount != 1:
        raise Unauthorized("challenge_used", "this challenge was already used; ask for a new one")
    if int(row[2]) < time.time():
        raise Unauthorized("challenge_expired", "this challenge has expired; ask for a new one")
    return str(row[0])


def _iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def _verify_token(services: Services, token: str) -> str:
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
    """A new API key for `address`; returns (id, the full key shown once, created_at)."""
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    now = int(time.time())
    with api_store(services).engine.begin() as conn:
        conn.execute(
            insert(api_keys).values(
                id=key_id,
                address=to_checksum_address(address),
                label=label,
                secret_sha256=hashlib.sha256(secret.encode()).digest(),
                created_at=now,
                revoked_at=None,
            )
        )
    return key_id, f"{KEY_PREFIX}_{key_id}_{secret}", now


# How long a checked key stays trusted by `known_api_key` (a revocation waits this long).
API_KEY_CACHE_SECONDS = 60.0


def known_api_key(services: Services, key: str) -> str:
    """The member address of a valid, unrevoked API key, remembered for a minute so the
    public verification path does not read the store on every request; else Unauthorized."""
    cache: dict[str, tuple[str, float]] = services.extras.setdefault("api_key_cache", {})
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    now = time.monotonic()
    found = cache.get(digest)
    if found is not None and found[1] > now:
        return found[0]
    address = _verify_api_key(services, key)
    if len(cache) >= 10_000:
        cache.clear()
    cache[digest] = (address, now + API_KEY_CACHE_SECONDS)
    return address


def _verify_api_key(services: Services, key: str) -> str:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise Unauthorized("invalid_api_key", "not a MedLedger API key")
    with api_store(services).engine.connect() as conn:
        row = conn.execute(
            select(api_keys.c.address, api_keys.c.secret_sha256, api_keys.c.revoked_at).where(
                api_keys.c.id == parts[1]
            )
        ).first()
    digest = hashlib.sha256(parts[2].encode()).digest()
    if row is None or not hmac.compare_digest(bytes(row[1]), digest):
        raise Unauthorized("invalid_api_key", "unknown API key")
    if row[2] is not None:
        raise Unauthorized("api_key_revoked", "this API key was revoked")
    return str(row[0])


# ------------------------------------------------------------------ certificates


def _verify_certificate(services: Services, pem: str) -> tuple[x509.Certificate, str]:
    ca_file = services.settings.ca_cert_file
    if ca_file is None:
        raise NotConfigured("ca_missing", "set MEDLEDGER_API_CA_CERT_FILE to accept certificates")
    ca = services.extras.get("consortium_ca_cert")
    if ca is None:
        ca = certificate_from_pem(ca_file.read_bytes(), source=str(ca_file))
        services.extras["consortium_ca_cert"] = ca
    try:
        cert = certificate_from_pem(pem, source="client certificate")
        identity = verify_member(cert, ca_cert=ca)
    except CertificateError as exc:
        raise Unauthorized("invalid_certificate", str(exc)) from exc
    return cert, to_checksum_address(identity.address)


# ------------------------------------------------------------------ the dependency


def resolve_member(services: Services, address: str, *, method: str) -> Member:
    """The live member behind `address`: 403 unless the Partners contract says active."""
    record = reader(services).member(address)
    if record.status is not MemberStatus.ACTIVE:
        raise Forbidden(
            "member_not_active",
            f"{address} is {record.status.name.lower()} in the Partners contract",
        )
    with services.engine.connect() as conn:
        name = conn.execute(
            text("SELECT name FROM organisations WHERE address = :a"), {"a": address}
        ).scalar()
    return Member(to_checksum_address(address), record.role, name, method)


def current_member(
    request: Request,
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Member:
    if bearer is not None:
        return resolve_member(services, _verify_token(services, bearer.credentials), method="token")
    if api_key is not None:
        return resolve_member(services, _verify_api_key(services, api_key), method="api_key")
    header = services.settings.client_cert_header
    if header and (value := request.headers.get(header)):
        _, address = _verify_certificate(services, unquote(value))
        return resolve_member(services, address, method="certificate")
    raise Unauthorized(
        "authentication_required",
        "sign in (Authorization: Bearer <token>), or send X-API-Key or a client certificate",
    )


CurrentMember = Annotated[Member, Depends(current_member)]
