"""The partner routes' member, from the request: bearer token, API key or client
certificate (`CurrentMember`, the dependency every partner route takes), and the throttles
on sign-in steps and API-key look-ups, charged to the client address.

Throttles: every challenge issued or redeemed costs the client address one of its
SIGN_IN_STEPS_PER_MINUTE (`throttle_sign_in`); an API key not seen valid in the last
minute is looked up only after the client address pays for the look-up (the token is
given back when the key is valid), so made-up keys end in 429, not in one database read
each: on partner routes from its API_KEY_LOOKUPS_PER_MINUTE (`api_key_member`), on the
public verification routes from its verification budget (`charge_verification`, which
also charges a keyed request to its member).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from medledger.domain.auth import (
    Member,
    cached_api_key,
    known_api_key,
    resolve_member,
    verify_api_key,
    verify_certificate,
    verify_token,
)
from medledger.domain.errors import RateLimited, Unauthorized
from medledger.domain.services import Services
from medledger.web.deps import ServicesDep
from medledger.web.ratelimit import API_KEY_HEADER, SharedBuckets, client_address, shared_buckets

__all__ = [
    "API_KEY_LOOKUPS_PER_MINUTE",
    "SIGN_IN_STEPS_PER_MINUTE",
    "CurrentMember",
    "api_key_member",
    "charge_verification",
    "current_member",
    "throttle_sign_in",
]

# Challenges asked for and redeemed per client address and minute (a burst of as many): a
# member signs in with two, so a whole office behind one address signs in dozens of times.
SIGN_IN_STEPS_PER_MINUTE = 60
# Look-ups of API keys not seen valid lately, per client address and minute (a burst of as
# many), on partner routes.
API_KEY_LOOKUPS_PER_MINUTE = 30

_bearer = HTTPBearer(auto_error=False, description="token from POST /v1/auth/token")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="machine clients")


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
    if cached_api_key(services, key) is not None:
        return verify_api_key(services, key) if fresh else known_api_key(services, key)
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
    address = cached_api_key(services, key)
    if address is not None:
        return address, 0
    ip = "ip:" + client_address(request)
    wait = buckets.take(ip)
    if wait:
        return None, wait
    address = known_api_key(services, key)
    buckets.give(ip)
    return address, 0


def current_member(
    request: Request,
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Member:
    """The caller, noted for the audit trail (`web.audit_trail`) as its sign-in method."""
    member = _current_member(request, services, bearer, api_key)
    request.state.audit_actor = (f"{member.method}:{member.address}", "member", member.address)
    return member


def _current_member(
    request: Request,
    services: Services,
    bearer: HTTPAuthorizationCredentials | None,
    api_key: str | None,
) -> Member:
    if bearer is not None:
        return resolve_member(services, verify_token(services, bearer.credentials), method="token")
    if api_key is not None:
        address = api_key_member(services, request, api_key, fresh=True)
        return resolve_member(services, address, method="api_key")
    header = services.settings.client_cert_header
    if header and (value := request.headers.get(header)):
        _, address = verify_certificate(services, unquote(value))
        return resolve_member(services, address, method="certificate")
    raise Unauthorized(
        "authentication_required",
        "sign in (Authorization: Bearer <token>), or send X-API-Key or a client certificate",
    )


CurrentMember = Annotated[Member, Depends(current_member)]
