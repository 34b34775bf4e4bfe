"""Sign-in and sign-out: a portal user's password, or the member's own key (an EIP-4361
challenge from `domain.auth.issue_challenge`, signed in the browser with window.ethereum
and redeemed with `domain.auth.redeem_challenge`). `/portal/` sends a member to its role's
first page.

Password guessing is throttled by `portal.throttle` (atomically, before the password is
checked, and so that a stranger's failures cannot lock a user out of a browser it signed
in from before); the key sign-in's steps are throttled per client address like the API's
(`web.members.throttle_sign_in`). Either answers 429 with the time to wait.

The session carries the user's name and role (`portal.sessions.Session`). Every attempt,
sign-out included, is in the audit trail (`web.audit_trail`): a known user's in its
organisation's chain, an unknown name's in the chain "-"."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from medledger.domain.auth import (
    ChallengeRequest,
    TokenRequest,
    issue_challenge,
    redeem_challenge,
    resolve_member,
)
from medledger.domain.errors import ApiError
from medledger.portal.context import Csrf, Ctx, PageCtx
from medledger.portal.errors import PortalFailure
from medledger.portal.forms import local_path
from medledger.portal.nav import home_for
from medledger.portal.sessions import Session, clear_session, revoke, write_session
from medledger.portal.throttle import SignInThrottled, begin_attempt, remember_device
from medledger.portal.users import authenticate
from medledger.web.members import throttle_sign_in

__all__ = ["router"]

router = APIRouter(prefix="/portal", include_in_schema=False)


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
    ctx.request.state.audit_actor = (username.strip()[:64] or "-", "-", None)
    try:
        attempt = begin_attempt(ctx.services, ctx.request, username)
    except SignInThrottled as exc:
        problem = _throttled(exc.wait, exc.detail)
        page = ctx.render("signin.html", values=values, problem=problem, status_code=429)
        page.headers["Retry-After"] = str(exc.wait)
        return page
    user = authenticate(ctx.services, username.strip(), password)
    if user is None:
        problem = PortalFailure("bad_credentials", f"no user {username!r} with that password")
        return ctx.render("signin.html", values=values, problem=problem, status_code=401)
    attempt.succeeded()
    ctx.request.state.audit_actor = (user.username, str(user.role), user.address)
    session = Session.new(
        username=user.username,
        address=user.address,
        method="password",
        role=str(user.role),
        display_name=user.display_name,
    )
    try:
        response = _signed_in(ctx, session, next)
    except ApiError as exc:
        return ctx.render("signin.html", values=values, problem=exc, status_code=exc.status)
    remember_device(response, ctx.services.settings, ctx.request, user.username)
    return response


@router.post("/sign-in/key/challenge")
def key_challenge(ctx: PageCtx, _: Csrf, address: Annotated[str, Form()]) -> Response:
    """The EIP-4361 message the member's wallet signs (JSON, for siwe.js)."""
    try:
        body = ChallengeRequest(address=address)
    except ValidationError as exc:
        return JSONResponse({"error": ctx.explain(exc)}, status_code=422)
    try:
        throttle_sign_in(ctx.services, ctx.request)
        message, expires = issue_challenge(ctx.services, body.address)
    except ApiError as exc:
        return JSONResponse({"error": ctx.explain(exc), "code": exc.code}, status_code=exc.status)
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
        throttle_sign_in(ctx.services, ctx.request)
        token = TokenRequest.model_validate({"message": message, "signature": signature})
        address = redeem_challenge(ctx.services, token.message, token.signature)
        ctx.request.state.audit_actor = (address, "manager", address)
        session = Session.new(username=address, address=address, method="key")
        return _signed_in(ctx, session, next)
    except (ApiError, ValidationError) as exc:
        status = exc.status if isinstance(exc, ApiError) else 401
        return ctx.render("signin.html", values={"next": next}, problem=exc, status_code=status)


@router.post("/sign-out")
def sign_out(ctx: PageCtx, _: Csrf) -> Response:
    if ctx.session is not None:
        revoke(ctx.services, ctx.session)
    response = RedirectResponse("/portal/sign-in", status_code=303)
    clear_session(response)
    return response
