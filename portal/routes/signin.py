"""Sign-in and sign-out: a portal user's password, or the member's own key (an EIP-4361
challenge from `api.auth.issue_challenge`, signed in the browser with window.ethereum and
redeemed with `api.auth.redeem_challenge`). `/portal/` sends a member to its role's
first page.

Password guessing is throttled twice: every attempt counts against its username, and every
failed one against the client's address (`api.ratelimit.client_address`: the peer, or the
X-Forwarded-For client only when uvicorn trusts the proxy). Either answers 429 with the
time to wait."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.auth import issue_challenge, redeem_challenge, resolve_member
from api.errors import ApiError
from api.ratelimit import SharedBuckets, client_address
from api.routes.auth import ChallengeRequest, TokenRequest
from api.services import Services
from portal.context import Csrf, Ctx, PageCtx
from portal.errors import PortalFailure
from portal.forms import local_path
from portal.nav import home_for
from portal.sessions import Session, clear_session, revoke, write_session
from portal.users import authenticate

__all__ = ["router"]

router = APIRouter(prefix="/portal", include_in_schema=False)
SIGN_IN_ATTEMPTS_PER_MINUTE = 10
# Failed password attempts per client address, whatever the username: a burst of 50, then
# one every 3 minutes. A hospital of a few hundred clerks behind one NAT address mistypes
# a few dozen passwords at a shift change and stays under it; one address rotating
# usernames gets 50 + 480 guesses a day instead of thousands an hour.
FAILED_SIGN_INS_PER_ADDRESS = 50
FAILED_SIGN_IN_REFILL_PER_MINUTE = 1 / 3


def _buckets(services: Services, name: str, rate_per_minute: float, burst: int) -> SharedBuckets:
    """Token buckets in the file `<data_dir>/<name>.buckets`, shared by workers."""
    buckets = services.extras.get(name)
    if not isinstance(buckets, SharedBuckets):
        path = services.settings.data_dir / f"{name}.buckets"
        buckets = SharedBuckets(path, rate_per_minute=rate_per_minute, burst=burst, slots=4096)
        services.extras[name] = buckets
    return buckets


def _attempts(services: Services) -> SharedBuckets:
    """Password attempts per username, failed or not (SIGN_IN_ATTEMPTS_PER_MINUTE)."""
    rate = SIGN_IN_ATTEMPTS_PER_MINUTE
    return _buckets(services, "portal-sign-in", rate, rate)


def _failures(services: Services) -> SharedBuckets:
    """Failed password attempts per client address (FAILED_SIGN_INS_PER_ADDRESS)."""
    rate, burst = FAILED_SIGN_IN_REFILL_PER_MINUTE, FAILED_SIGN_INS_PER_ADDRESS
    return _buckets(services, "portal-sign-in-failures", rate, burst)


def _throttled(wait_seconds: int, detail: str) -> PortalFailure:
    minutes = math.ceil(wait_seconds / 60)
    if minutes <= 1:
        return PortalFailure("rate_limited", detail)
    return PortalFailure("rate_limited_minutes", detail, params={"minutes": str(minutes)})


def _signed_in(ctx: Ctx, session: Session, next_url: str | None) -> Response:
    member = resolve_member(ctx.services, session.address, method=session.method)
    response = RedirectResponse(local_path(next_url) or home_for(member.role), status_code=303)
    write_session(response, ctx.services.settings, session)
    return response


@router.get("/")
def home(ctx: PageCtx) -> Response:
    if ctx.member is None:
        return RedirectResponse("/portal/sign-in", status_code=303)
    return RedirectResponse(home_for(ctx.member.role), status_code=303)


@router.get("/sign-in")
def sign_in_form(ctx: PageCtx, next: str | None = None) -> Response:
    return ctx.render("signin.html", values={"next": local_path(next) or ""})


@router.post("/sign-in")
def sign_in(
    ctx: PageCtx,
    _: Csrf,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    values = {"username": username, "next": next}
    address = f"ip:{client_address(ctx.request)}"
    wait = _failures(ctx.services).wait(address)
    detail = f"too many failed sign-ins from {address[3:]}; retry in {wait} s"
    if not wait:
        wait = _attempts(ctx.services).take(f"user:{username.strip().lower()}")
        detail = f"too many sign-in attempts for {username!r}; retry in {wait} s"
    if wait:
        problem = _throttled(wait, detail)
        return ctx.render("signin.html", values=values, problem=problem, status_code=429)
    user = authenticate(ctx.services, username.strip(), password)
    if user is None:
        _failures(ctx.services).take(address)
        problem = PortalFailure("bad_credentials", f"no user {username!r} with that password")
        return ctx.render("signin.html", values=values, problem=problem, status_code=401)
    session = Session.new(username=user.username, address=user.address, method="password")
    try:
        return _signed_in(ctx, session, next)
    except ApiError as exc:
        return ctx.render("signin.html", values=values, problem=exc, status_code=exc.status)


@router.post("/sign-in/key/challenge")
def key_challenge(ctx: PageCtx, _: Csrf, address: Annotated[str, Form()]) -> Response:
    """The EIP-4361 message the member's wallet signs (JSON, for siwe.js)."""
    try:
        body = ChallengeRequest(address=address)
    except ValidationError as exc:
        return JSONResponse({"error": ctx.explain(exc)}, status_code=422)
    message, expires = issue_challenge(ctx.services, body.address)
    return JSONResponse({"message": message, "expires_at": expires})


@router.post("/sign-in/key")
def key_sign_in(
    ctx: PageCtx,
    _: Csrf,
    message: Annotated[str, Form(max_length=2000)],
    signature: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Redeem a challenge signed with the member key (personal_sign)."""
    try:
        token = TokenRequest.model_validate({"message": message, "signature": signature})
        address = redeem_challenge(ctx.services, token.message, token.signature)
        session = Session.new(username=address, address=address, method="key")
        return _signed_in(ctx, session, next)
    except (ApiError, ValidationError) as exc:
        return ctx.render("signin.html", values={"next": next}, problem=exc, status_code=401)


@router.post("/sign-out")
def sign_out(ctx: PageCtx, _: Csrf) -> Response:
    if ctx.session is not None:
        revoke(ctx.services, ctx.session)
    response = RedirectResponse("/portal/sign-in", status_code=303)
    clear_session(response)
    return response
