"""Password sign-in throttling that an attacker can neither outrun nor turn against a user.

**Atomic.** An attempt takes a token from every bucket that applies to it *before* the
password is checked (scrypt, ~50 ms), and gives them back if the password was right: only
failures count. The buckets are `api.ratelimit.SharedBuckets`, memory-mapped files under
the API's data directory whose take is one read-refill-write under `flock`, so however
many threads or worker processes answer, concurrent guesses check at most as many
passwords as the buckets hold tokens; the rest are answered 429 at once. (Before, the
address budget was read before the check and charged after it, so 24 concurrent guesses
were all checked.)

**Not a lockout weapon.** Counting failures per username alone lets a stranger lock a
known user out by failing on purpose. So a browser that has signed in as a user gets a
*device cookie* for that user (OWASP's "device cookies"): `mlp_device`, HMAC-signed under
the master key's `portal-device` sub-key, holding a random device id and the (lower-case)
usernames signed in from it, path `/portal/sign-in`, SameSite=Strict, kept 180 days. The
buckets an attempt takes from depend on whether it shows one for the username it tries:

- with the user's device cookie: only its own bucket per (username, device),
  FAILED_SIGN_INS_PER_DEVICE, a burst, then one a minute. A stranger cannot make that
  cookie (it takes the user's password once), so nothing a stranger does empties it: the
  owner always gets in from a browser it used before, even from the attacker's address;
- without: the username's bucket shared by every such client,
  FAILED_SIGN_INS_PER_USERNAME (a burst, then one a minute), and the client address's
  bucket, FAILED_SIGN_INS_PER_ADDRESS (a burst of 50, then one every 3 minutes), which
  stops one address trying a password against many usernames.

Under a sustained attack on one username, the owner on a *new* browser shares that
username's bucket with the attacker and may be told to wait; its own browsers, its
organisation's key (EIP-4361 sign-in, throttled per address by `api.auth`) and the
platform operator still let it in. Attempts that are refused cost nothing (their tokens
are given back), so a locked username does not drain its clients' address budgets.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from fastapi import Request, Response

from medledger.domain.errors import ApiError
from medledger.domain.services import Services
from medledger.domain.settings import ApiSettings
from medledger.portal.sessions import read_signed_value, signed_value
from medledger.sdk.errors import MedLedgerError
from medledger.web.ratelimit import SharedBuckets, client_address, shared_buckets

__all__ = [
    "DEVICE_COOKIE",
    "FAILED_SIGN_INS_PER_ADDRESS",
    "FAILED_SIGN_INS_PER_DEVICE",
    "FAILED_SIGN_INS_PER_USERNAME",
    "Attempt",
    "SignInThrottled",
    "begin_attempt",
    "remember_device",
]

DEVICE_COOKIE = "mlp_device"
DEVICE_TTL_SECONDS = 180 * 24 * 3600
DEVICE_USERS = 16  # usernames a shared workstation's cookie remembers (the latest ones)
FAILED_SIGN_INS_PER_USERNAME = 10  # then one a minute, shared by clients without a cookie
FAILED_SIGN_INS_PER_DEVICE = 10  # then one a minute, per (username, device)
# Failed password attempts per client address, whatever the username: a burst of 50, then
# one every 3 minutes. A hospital of a few hundred clerks behind one NAT address mistypes
# a few dozen passwords at a shift change and stays under it; one address rotating
# usernames gets 50 + 480 guesses a day instead of thousands an hour.
FAILED_SIGN_INS_PER_ADDRESS = 50
FAILED_SIGN_IN_REFILL_PER_MINUTE = 1 / 3


class SignInThrottled(MedLedgerError):
    """No password may be checked for this attempt yet; `wait` seconds until one may."""

    def __init__(self, wait: int, detail: str) -> None:
        super().__init__(detail)
        self.wait = wait
        self.detail = detail


@dataclass
class Attempt:
    """The tokens one password attempt holds while its password is checked."""

    taken: list[tuple[SharedBuckets, str]] = field(default_factory=list)

    def succeeded(self) -> None:
        """The password was right: the attempt does not count."""
        for buckets, client in self.taken:
            buckets.give(client)
        self.taken.clear()


def begin_attempt(services: Services, request: Request, username: str) -> Attempt:
    """Take the tokens a password attempt for `username` needs, or raise
    `SignInThrottled` having taken none."""
    user = username.strip().lower()
    device = _device(services.settings, request)
    if device is not None and user in device[1]:
        needs = [(_per_device(services), f"user:{user}|device:{device[0]}", "this browser")]
    else:
        address = client_address(request)
        needs = [
            (_per_username(services), f"user:{user}", f"the user {username!r}"),
            (_per_address(services), f"ip:{address}", f"the address {address}"),
        ]
    attempt = Attempt()
    for buckets, client, whom in needs:
        wait = buckets.take(client)
        if wait:
            attempt.succeeded()  # give back what was taken: a refused attempt costs nothing
            raise SignInThrottled(wait, f"too many failed sign-ins for {whom}; retry in {wait} s")
        attempt.taken.append((buckets, client))
    return attempt


def remember_device(
    response: Response, settings: ApiSettings, request: Request, username: str
) -> None:
    """Set the device cookie after `username` signed in with its password."""
    device = _device(settings, request)
    device_id, users = device if device is not None else (secrets.token_hex(16), [])
    user = username.strip().lower()
    users = [u for u in users if u != user][-(DEVICE_USERS - 1) :] + [user]
    response.set_cookie(
        DEVICE_COOKIE,
        signed_value(settings, {"id": device_id, "users": users}, purpose="portal-device"),
        max_age=DEVICE_TTL_SECONDS,
        httponly=True,
        samesite="strict",
        secure=settings.public_base_url.startswith("https:"),
        path="/portal/sign-in",
    )


def _device(settings: ApiSettings, request: Request) -> tuple[str, list[str]] | None:
    """The request's valid device cookie: (device id, usernames signed in from it)."""
    try:
        data = read_signed_value(
            settings, request.cookies.get(DEVICE_COOKIE), purpose="portal-device"
        )
    except ApiError:  # no master key: nothing is signed, nobody signs in
        return None
    if not isinstance(data, dict):
        return None
    device_id, users = data.get("id"), data.get("users")
    if not isinstance(device_id, str) or not isinstance(users, list):
        return None
    return device_id, [u for u in users if isinstance(u, str)]


def _per_device(services: Services) -> SharedBuckets:
    burst = FAILED_SIGN_INS_PER_DEVICE
    return shared_buckets(services, "portal-sign-in-devices", rate_per_minute=1, burst=burst)


def _per_username(services: Services) -> SharedBuckets:
    burst = FAILED_SIGN_INS_PER_USERNAME
    return shared_buckets(services, "portal-sign-in", rate_per_minute=1, burst=burst)


def _per_address(services: Services) -> SharedBuckets:
    return shared_buckets(
        services,
        "portal-sign-in-failures",
        rate_per_minute=FAILED_SIGN_IN_REFILL_PER_MINUTE,
        burst=FAILED_SIGN_INS_PER_ADDRESS,
    )
