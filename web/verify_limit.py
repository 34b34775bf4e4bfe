"""The public verification budget, shared by both faces' verification routes: every
request is charged to its client's token bucket (`web.ratelimit`), shared by all worker
processes. (Its own module: `domain.auth`, which charges the bucket, imports
`web.ratelimit`.)"""

from __future__ import annotations

from fastapi import Depends, Request

from medledger.domain.errors import RateLimited
from medledger.domain.services import Component, Services
from medledger.web.members import charge_verification
from medledger.web.ratelimit import SharedBuckets

__all__ = ["RateLimit", "close_verify_buckets", "rate_limit", "scan_member", "verify_buckets"]

_KEY: Component[SharedBuckets] = Component("verify-buckets")


def verify_buckets(services: Services) -> SharedBuckets:
    """This process's view of the verification buckets, opened on first use."""
    s = services.settings
    return services.components.get(
        _KEY,
        lambda: SharedBuckets(
            s.data_dir / "verify-ratelimit.buckets", rate_per_minute=s.verify_rate_per_minute
        ),
    )


def close_verify_buckets(services: Services) -> None:
    found = services.components.pop(_KEY)
    if found is not None:
        found.close()


async def rate_limit(request: Request) -> None:
    """Charge one request to its client's bucket (`domain.auth.charge_verification`: the
    member of its API key, whose keys share one budget, else the client address, which
    also pays for looking up a key not seen valid lately); 429 with Retry-After when it is
    empty. The key's member is remembered for the scan (`scan_member`)."""
    services: Services = request.app.state.services
    request.state.scanner, wait = charge_verification(services, request, verify_buckets(services))
    if wait:
        raise RateLimited(
            f"verification budget of {services.settings.verify_rate_per_minute} requests per "
            f"minute used up; retry in {wait} s",
            retry_after=wait,
        )


RateLimit = Depends(rate_limit)


def scan_member(request: Request) -> str | None:
    """The member behind the request's API key, as `rate_limit` found it."""
    address = getattr(request.state, "scanner", None)
    return address if isinstance(address, str) else None
