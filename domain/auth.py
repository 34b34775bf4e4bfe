"""Who is calling: sign-in challenges, tokens, API keys, client certificates, and the
`CurrentMember` dependency every partner route takes.

Three ways in, one answer (a member address):

- **Signed challenge** (EIP-4361 style, `api.challenges`): a message whose nonce carries an
  HMAC, so issuing one stores nothing; redeeming checks the personal_sign signature, then
  spends the nonce (one INSERT into the spent set, so a replay loses the race).
- **Token**: `mlt1.<payload>.<HMAC-SHA256>` under the master key's `token` sub-key, with
  subject, method and expiry (`settings.token_ttl_seconds`).
- **API key**: `mlk_<id>_<secret>`; only SHA-256(secret) is stored; revocable. A member
  holds at most MAX_ACTIVE_API_KEYS unrevoked keys and creates at most
  MAX_API_KEYS_PER_DAY a day, and all its keys share one verification budget.
- **Client certificate** from the consortium CA, checked with `sdk.ca.verify_member`:
  passed by a TLS-terminating proxy in `settings.client_cert_header` (URL-encoded PEM), or
  posted with a challenge signed by the certificate's key (`redeem_certificate_challenge`).

Whatever the method, role and organisation are read live from the Partners contract (and
the indexer for the name): a suspended member is refused at once, even with a valid token.

Throttles: every challenge issued or redeemed costs the client address one of its
SIGN_IN_STEPS_PER_MINUTE (`throttle_sign_in`); an API key not seen valid in the last
minute is looked up only after the client address pays for the look-up (the token is
given back when the key is valid), so made-up keys end in 429, not in one database read
each: on partner routes from its API_KEY_LOOKUPS_PER_MINUTE (`api_key_member`), on the
public verification routes from its verification budget (`charge_verification`, which
also charges a keyed request to its member).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from eth_utils import to_checksum_address
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import BigInteger, LargeBinary, String, func, insert, literal, null, select, text

from domain.chain import reader
from domain.challenges import issue_challenge, read_challenge, redeem_challenge, spend_challenge
from domain.custodial_keys import derive_key, master_key
from domain.errors import Forbidden, NotConfigured, RateLimited, Unauthorized, Unprocessable
from domain.services import Services
from domain.store import api_keys, api_store
from sdk.ca import certificate_from_pem, verify_member
from sdk.errors import CertificateError
from sdk.model import MemberStatus, Role
from web.deps import ServicesDep
from web.ratelimit import API_KEY_HEADER, SharedBuckets, client_address, shared_buckets

__all__ = [
    "API_KEY_LOOKUPS_PER_MINUTE",
    "MAX_ACTIVE_API_KEYS",
    "MAX_API_KEYS_PER_DAY",
    "SIGN_IN_STEPS_PER_MINUTE",
    "CurrentMember",
    "Member",
    "api_key_member",
    "charge_verification",
    "create_api_key",
    "known_api_key",
    "issue_challenge",
    "issue_token",
    "redeem_certificate_challenge",
    "redeem_challenge",
    "resolve_member",
    "throttle_sign_in",
    "verify_token",
]

TOKEN_PREFIX = "mlt1"
KEY_PREFIX = "mlk"
# Challenges asked for and redeemed per client address and minute (a burst of as many): a
# member signs in with two, so a whole office behind one address signs in dozens of times.
SIGN_IN_STEPS_PER_MINUTE = 60
# Look-ups of API keys not seen valid lately, per client address and minute (a burst of as
# many), on partner routes.
API_KEY_LOOKUPS_PER_MINUTE = 30
MAX_ACTIVE_API_KEYS = 20
MAX_API_KEYS_PER_DAY = 100

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


def redeem_certificate_challenge(
    services: Services, certificate_pem: str, message: str, signature: bytes
) -> str:
    """The member address of a consortium certificate whose key signed (ECDSA, SHA-256,
    DER) a live, unused challenge issued to that address; the challenge is spent only
    when the signature verifies."""
    cert, address = _verify_certificate(services, certificate_pem)
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


def throttle_sign_in(services: Services, request: Request) -> None:
    """Charge a sign-in step (a challenge asked for or redeemed) to the client address's
    budget: SIGN_IN_STEPS_PER_MINUTE, 429 with Retry-After past it."""
    buckets = shared_buckets(
        services, "sign-in-steps", rate_per_minute=SIGN_IN_STEPS_PER_MINUTE,
        burst=SIGN_IN_STEPS_PER_MINUTE,
    )  # fmt: skip
    wait = buckets.take("ip:" + client_address(request))
    if wait:
        raise RateLimited(
            f"too many sign-in requests from {client_address(request)}; retry in {wait} s",
            retry_after=wait,
        )


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
    mine = api_keys.c.address == address

    def count(*where: Any) -> Any:
        return select(func.count()).select_from(api_keys).where(mine, *where).scalar_subquery()

    row = select(
        literal(key_id, String),
        literal(address, String),
        literal(label, String),
        literal(hashlib.sha256(secret.encode()).digest(), LargeBinary),
        literal(now, BigInteger),
        null(),
    ).where(
        count(api_keys.c.revoked_at.is_(None)) < MAX_ACTIVE_API_KEYS,
        count(api_keys.c.created_at > now - 86_400) < MAX_API_KEYS_PER_DAY,
    )
    columns = ["id", "address", "label", "secret_sha256", "created_at", "revoked_at"]
    with api_store(services).engine.begin() as conn:
        # RETURNING, not rowcount: psycopg reports -1 rows for an INSERT ... SELECT.
        added = conn.execute(
            insert(api_keys).from_select(columns, row).returning(api_keys.c.id)
        ).first()
    if added is None:
        raise Unprocessable(
            "api_key_limit",
            f"a member holds at most {MAX_ACTIVE_API_KEYS} unrevoked API keys and creates at "
            f"most {MAX_API_KEYS_PER_DAY} a day; revoke keys it no longer uses",
        )
    return key_id, f"{KEY_PREFIX}_{key_id}_{secret}", now


# How long a checked key stays trusted by `known_api_key` (a revocation waits this long).
API_KEY_CACHE_SECONDS = 60.0


def known_api_key(services: Services, key: str) -> str:
    """The member address of a valid, unrevoked API key, remembered for a minute so the
    public verification path does not read the store on every request; else Unauthorized."""
    address = _cached_api_key(services, key)
    if address is not None:
        return address
    address = _verify_api_key(services, key)
    cache: dict[str, tuple[str, float]] = services.extras.setdefault("api_key_cache", {})
    if len(cache) >= 10_000:
        cache.clear()
    cache[_digest(key)] = (address, time.monotonic() + API_KEY_CACHE_SECONDS)
    return address


def _cached_api_key(services: Services, key: str) -> str | None:
    cache: dict[str, tuple[str, float]] = services.extras.setdefault("api_key_cache", {})
    found = cache.get(_digest(key))
    return found[0] if found is not None and found[1] > time.monotonic() else None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def charge_verification(
    services: Services, request: Request, buckets: SharedBuckets
) -> tuple[str | None, int]:
    """Charge one public verification request; returns (the member behind its API key, or
    None, and the seconds to wait: 0 when granted).

    Without a key the client address pays. With a key its member pays: all of a member's
    keys share one budget. A key not seen valid in the last minute is looked up only
    after the client address pays for the look-up (the token is given back when the key
    is valid), so made-up keys spend the address's budget and end in 429, not in one
    database read each; an invalid key is a 401."""
    key = request.headers.get(API_KEY_HEADER)
    if not key:
        return None, buckets.take("ip:" + client_address(request))
    address, wait = _paid_look_up(services, request, key, buckets)
    if address is None:
        return None, wait
    return address, buckets.take("member:" + address)


def api_key_member(services: Services, request: Request, key: str, *, fresh: bool) -> str:
    """The member address of API key `key` on a partner route; 401 for an invalid key, 429
    with Retry-After when the client address has spent its API_KEY_LOOKUPS_PER_MINUTE on
    keys not seen valid lately. `fresh`: a key seen valid lately is read again (so a
    revocation counts at once); else that key costs nothing."""
    if _cached_api_key(services, key) is not None:
        return _verify_api_key(services, key) if fresh else known_api_key(services, key)
    buckets = shared_buckets(
        services, "api-key-lookups", rate_per_minute=API_KEY_LOOKUPS_PER_MINUTE,
        burst=API_KEY_LOOKUPS_PER_MINUTE,
    )  # fmt: skip
    address, wait = _paid_look_up(services, request, key, buckets)
    if address is None:
        raise RateLimited(
            f"too many unknown API keys from {client_address(request)}; retry in {wait} s",
            retry_after=wait,
        )
    return address


def _paid_look_up(
    services: Services, request: Request, key: str, buckets: SharedBuckets
) -> tuple[str | None, int]:
    """(the member of `key`, 0), the client address paying one token of `buckets` for the
    look-up unless the key was seen valid lately (given back when the key is valid); (None,
    the seconds to wait) when the address cannot pay. Unauthorized for an invalid key (the
    token stays spent)."""
    address = _cached_api_key(services, key)
    if address is not None:
        return address, 0
    ip = "ip:" + client_address(request)
    wait = buckets.take(ip)
    if wait:
        return None, wait
    address = known_api_key(services, key)
    buckets.give(ip)
    return address, 0


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
        return resolve_member(services, verify_token(services, bearer.credentials), method="token")
    if api_key is not None:
        address = api_key_member(services, request, api_key, fresh=True)
        return resolve_member(services, address, method="api_key")
    header = services.settings.client_cert_header
    if header and (value := request.headers.get(header)):
        _, address = _verify_certificate(services, unquote(value))
        return resolve_member(services, address, method="certificate")
    raise Unauthorized(
        "authentication_required",
        "sign in (Authorization: Bearer <token>), or send X-API-Key or a client certificate",
    )


CurrentMember = Annotated[Member, Depends(current_member)]
