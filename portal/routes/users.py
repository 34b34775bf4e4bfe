"""People inside an organisation: the manager's user page (`/portal/users`: the
organisation's users, a new user with its role), the checkers' "Awaiting approval" page
(`/portal/approvals`: the maker-checker's pending actions, approve or reject with a
reason, and proposing the release of quarantined serialised units), and the audit trail
(`/portal/audit`: a manager reads its organisation's, the regulator everyone's; filter,
verify the chain, anchor its head now).

Who may post where is `portal.context.STAFF_POLICY`; the GET pages check the same roles.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from medledger.domain import approvals, audit
from medledger.domain.auth import StaffRole
from medledger.domain.partner_schemas import ItemsIn, hexs
from medledger.portal.context import ROLE_NAMES, Csrf, Ctx, MemberCtx
from medledger.portal.errors import ACTION_ERRORS, FormError
from medledger.portal.forms import codes, date_ts
from medledger.portal.nav import NavItem, _l, register
from medledger.portal.users import UserError, create_user, organisation_users
from medledger.sdk.model import Role

__all__ = ["router"]

router = APIRouter(prefix="/portal", include_in_schema=False)
EVERYONE = frozenset(r for r in Role if r is not Role.NONE)
register(
    NavItem("/portal/approvals", _l("Awaiting approval"), EVERYONE, 900),
    NavItem("/portal/users", _l("Users"), EVERYONE, 910),
    NavItem("/portal/audit", _l("Audit trail"), EVERYONE, 920),
)
PAGE = 100
FIELDS = {"weak_password": "password", "invalid_role": "role", "invalid_request": "display_name"}


# ------------------------------------------------------------------ users


def _users_page(ctx: Ctx, **values: object) -> HTMLResponse:
    ctx.require_staff(StaffRole.MANAGER)
    users = organisation_users(ctx.services, ctx.signed_in.address)
    roles = [(str(r), ctx._(ROLE_NAMES[r])) for r in StaffRole]
    return ctx.render("users/users.html", users=users, roles=roles, role_names=ROLE_NAMES,
                      **values)  # fmt: skip


@router.get("/users")
def users_page(ctx: MemberCtx) -> HTMLResponse:
    return _users_page(ctx, values={"role": "clerk"})


@router.post("/users")
def add_user(
    ctx: MemberCtx,
    _: Csrf,
    username: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=100)] = "",
    role: Annotated[str, Form(max_length=16)] = "clerk",
    password: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    """A manager adds a user to its own organisation (never to another)."""
    typed = {"username": username, "display_name": display_name, "role": role}
    ctx.request.state.audit_object = f"user={username.strip()[:64]}"
    try:
        user = create_user(
            ctx.services,
            username=username.strip(),
            password=password,
            address=ctx.signed_in.address,
            display_name=display_name,
            role=role,
            created_by=ctx.staff.username,
        )
    except UserError as exc:
        field = FIELDS.get(exc.code, "username")
        problem = FormError(exc.code, str(exc), {field: str(exc)})
        return _users_page(ctx, values=typed, problem=problem)
    notice = ctx._("User %(name)s added.") % {"name": user.username}
    return _users_page(ctx, values={"role": "clerk"}, notice=notice)


# ------------------------------------------------------------------ approvals


def _approvals_page(ctx: Ctx, **values: object) -> HTMLResponse:
    ctx.require_staff(StaffRole.QA)
    found = approvals.approvals_of(ctx.services, member=ctx.signed_in, limit=PAGE)
    pending = [a for a in found if a.state == "pending"]
    decided = [a for a in found if a.state != "pending"]
    return ctx.render("users/approvals.html", pending=pending, decided=decided, **values)


@router.get("/approvals")
def approvals_page(ctx: MemberCtx) -> HTMLResponse:
    return _approvals_page(ctx)


@router.post("/approvals/release-units")
def propose_unit_release(
    ctx: MemberCtx, _: Csrf, units: Annotated[str, Form(max_length=20_000)] = ""
) -> HTMLResponse:
    """Propose releasing quarantined serialised units (QA; another QA user approves)."""
    try:
        found = codes("units", units)
        payload = {"item_ids": [hexs(u.item_id) for u in found]}
        ItemsIn.model_validate(payload)  # the limits, before it waits for a checker
        approvals.propose(
            ctx.services,
            member=ctx.signed_in,
            proposer=ctx.staff,
            kind="release_units",
            payload=payload,
            summary="; ".join(u.digital_link_path for u in found)[:500],
        )
    except ACTION_ERRORS as exc:
        return _approvals_page(ctx, values={"units": units}, problem=exc)
    notice = ctx._("Release of %(n)s units proposed; another QA user or a manager approves it.")
    return _approvals_page(ctx, notice=notice % {"n": ctx.fmt.number(len(found))})


@router.post("/approvals/{approval_id}/{decision}")
def decide(
    ctx: MemberCtx,
    _: Csrf,
    approval_id: str,
    decision: str,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse:
    """Approve (the action runs now), reject (with a reason) or, for its proposer, withdraw."""
    ctx.request.state.audit_action = decision[:20]
    try:
        if decision == "withdraw":
            approvals.withdraw(ctx.services, approval_id, member=ctx.signed_in,
                               proposer=ctx.staff)  # fmt: skip
            notice = ctx._("The proposal was withdrawn.")
        elif decision in ("approve", "reject"):
            done = approvals.decide(ctx.services, approval_id, member=ctx.signed_in,
                                    checker=ctx.staff, approve=decision == "approve",
                                    reason=reason)  # fmt: skip
            notice = ctx._("Approved and done.") if done.state == "approved" else ctx._("Rejected.")
        else:
            raise FormError("not_found", f"no decision {decision!r}")
    except ACTION_ERRORS as exc:
        status = getattr(exc, "status", None)
        return _approvals_page(ctx, problem=exc, status_code=status or 400)
    return _approvals_page(ctx, notice=notice)


# ------------------------------------------------------------------ audit trail


def _audit_scope(ctx: Ctx) -> str | None:
    """The organisation whose trail the user reads: its own; None (all) for the regulator."""
    ctx.require_staff(StaffRole.MANAGER)
    return None if ctx.signed_in.is_regulator else ctx.signed_in.address


@router.get("/audit")
def audit_page(
    ctx: MemberCtx,
    organisation: str = "",
    username: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    page: int = 0,
) -> HTMLResponse:
    scope = _audit_scope(ctx)
    typed = {"organisation": organisation[:42], "username": username[:64],
             "action": action[:100], "since": since[:10], "until": until[:10]}  # fmt: skip
    try:
        start = date_ts("since", since) if since.strip() else None
        end = date_ts("until", until, end_of_day=True) if until.strip() else None
        chosen = scope or (organisation.strip() or None)
        if chosen is not None and chosen != audit.ANONYMOUS and not _is_address(chosen):
            raise FormError("invalid_request", "organisation", {"organisation": chosen})
        rows, total = audit.entries(
            ctx.services,
            organisation=chosen,
            username=typed["username"].strip(),
            action=typed["action"].strip(),
            since=start,
            until=end,
            limit=PAGE,
            offset=max(0, min(page, 10_000)) * PAGE,
        )
    except ACTION_ERRORS as exc:
        return ctx.render("users/audit.html", rows=[], total=0, values=typed, problem=exc)
    return ctx.render("users/audit.html", rows=rows, total=total, values=typed, page=page,
                      all_organisations=scope is None)  # fmt: skip


def _is_address(text: str) -> bool:
    return (
        text.startswith("0x")
        and len(text) == 42
        and all(c in "0123456789abcdefABCDEF" for c in text[2:])
    )


@router.post("/audit/verify")
def verify_audit(ctx: MemberCtx, _: Csrf) -> HTMLResponse:
    scope = _audit_scope(ctx)
    reports = audit.verify(ctx.services, chain=scope)
    rows, total = audit.entries(ctx.services, organisation=scope, limit=PAGE)
    return ctx.render("users/audit.html", rows=rows, total=total, values={}, reports=reports,
                      all_organisations=scope is None, checked_at=int(time.time()))  # fmt: skip


@router.post("/audit/anchor")
def anchor_audit(ctx: MemberCtx, _: Csrf) -> Response:
    ctx.require_staff(StaffRole.MANAGER)
    try:
        audit.anchor(ctx.services, ctx.signed_in.address)
    except ACTION_ERRORS as exc:
        rows, total = audit.entries(ctx.services, organisation=ctx.signed_in.address, limit=PAGE)
        return ctx.render("users/audit.html", rows=rows, total=total, values={}, problem=exc)
    return RedirectResponse("/portal/audit", status_code=303)
