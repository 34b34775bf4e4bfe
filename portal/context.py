"""What every portal handler takes: `Ctx`, the request's language, formatter, session and
signed-in member, with `ctx.render(...)` for pages.

Dependencies (use them as parameter types in a route):

- `PageCtx`: any visitor (public pages).
- `MemberCtx`: a signed-in member (else a redirect to the sign-in page); role checks with
  `ctx.require(Role.X, ...)`, or use the role aliases from `portal.context.role_ctx`.
- `Csrf`: add `_: Csrf` to every POST handler; it checks the form's `csrf_token` and the
  user's role inside its organisation (`staff_role_for`: clerk by default; QA for a
  release from quarantine and for the maker-checker's decisions; manager for the users
  page and the regulator's member administration), so no POST is left unchecked. A
  handler may check more with `ctx.require_staff(StaffRole.X)`; templates ask
  `ctx.may("qa")` before showing a button.

Every request notes its actor in `request.state.audit_actor` (user, role, organisation)
for the audit trail (`web.audit_trail`).

The member is resolved live from the Partners contract on every request
(`api.auth.resolve_member`), so a suspended member is signed out at once.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

from babel.support import Translations
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from medledger.domain.auth import Member, Staff, StaffRole, resolve_member
from medledger.domain.errors import ApiError
from medledger.domain.services import Services
from medledger.portal.errors import PortalFailure, explain, failure
from medledger.portal.i18n import LANG_COOKIE, LANGS, Formatter, Lang, choose_lang, translations
from medledger.portal.nav import NavItem, _l, items_for
from medledger.portal.sessions import SESSION_COOKIE, Session, is_revoked, read_session
from medledger.portal.templating import templates
from medledger.portal.users import find_user
from medledger.portal.vocabulary import word
from medledger.sdk.errors import MedLedgerError
from medledger.sdk.model import Role
from medledger.web.deps import ServicesDep

__all__ = [
    "STAFF_POLICY",
    "Csrf",
    "Ctx",
    "MemberCtx",
    "PageCtx",
    "SignInRequired",
    "StaffRoleRequired",
    "WrongRole",
    "role_ctx",
    "staff_role_for",
]


CSRF_COOKIE = "mlp_csrf"
ROLE_NAMES = {
    StaffRole.CLERK: _l("Clerk"),
    StaffRole.QA: _l("QA"),
    StaffRole.MANAGER: _l("Manager"),
}


class SignInRequired(MedLedgerError):
    """Raised by `MemberCtx` for a visitor; answered with a redirect to sign in."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class WrongRole(MedLedgerError):
    """A signed-in member asked for a page of another role; answered with a 403 page."""

    def __init__(self, ctx: Ctx) -> None:
        super().__init__(ctx.request.url.path)
        self.ctx = ctx


class StaffRoleRequired(MedLedgerError):
    """The signed-in user's role inside its organisation does not cover the action;
    answered with a 403 page (code `staff_role_required`)."""

    def __init__(self, ctx: Ctx, needed: StaffRole) -> None:
        super().__init__(f"{ctx.request.url.path} needs the role {needed}")
        self.ctx = ctx
        self.needed = needed


# The role a portal POST needs, by path prefix (the longest that matches wins; the
# rest need a clerk). Page families add theirs: STAFF_POLICY["/portal/x"] = StaffRole.QA.
STAFF_POLICY: dict[str, StaffRole] = {
    "/portal/users": StaffRole.MANAGER,
    "/portal/audit": StaffRole.MANAGER,
    "/portal/approvals": StaffRole.QA,
    "/portal/regulator/licences": StaffRole.MANAGER,
    "/portal/regulator/members": StaffRole.MANAGER,
}
# Menu entries shown only to some roles (the pages check the same role).
NAV_STAFF: dict[str, StaffRole] = {
    "/portal/approvals": StaffRole.QA,
    "/portal/users": StaffRole.MANAGER,
    "/portal/audit": StaffRole.MANAGER,
}
# Form actions that need more than a clerk wherever they are posted.
STAFF_ACTIONS: dict[str, StaffRole] = {"release": StaffRole.QA}
# Paths every visitor may post to (signing in and out).
OPEN_PATHS = ("/portal/sign-in", "/portal/sign-out")


def staff_role_for(path: str, action: str | None = None) -> StaffRole:
    """The role a POST to `path` (with the form field `action`) needs."""
    needed = StaffRole.CLERK
    matches = [p for p in STAFF_POLICY if path == p or path.startswith(p.rstrip("/") + "/")]
    if matches:
        needed = STAFF_POLICY[max(matches, key=len)]
    extra = STAFF_ACTIONS.get(action or "")
    if extra is not None and extra.covers(needed) and extra is not needed:
        needed = extra
    return needed


@dataclass
class Ctx:
    request: Request
    services: Services
    lang: Lang
    session: Session | None
    member: Member | None
    gettext: Translations = field(repr=False)
    _new_csrf: str | None = field(default=None, repr=False)

    @property
    def fmt(self) -> Formatter:
        return Formatter(self.lang)

    @property
    def staff(self) -> Staff:
        """The signed-in user and its role (the member key acts as a manager)."""
        assert self.session is not None, "use MemberCtx for pages that need a member"
        return Staff(self.session.username, StaffRole(self.session.role))

    @property
    def user_label(self) -> str:
        """Who is signed in, for the page header: "张三 (QA)"."""
        if self.session is None:
            return ""
        name = self.session.display_name or self.session.username
        return f"{name} ({self._(ROLE_NAMES[StaffRole(self.session.role)])})"

    def may(self, role: str | StaffRole) -> bool:
        """Whether the signed-in user's role covers `role` (for showing buttons)."""
        return self.session is not None and self.staff.role.covers(StaffRole(role))

    def require_staff(self, role: StaffRole) -> Staff:
        if not self.may(role):
            raise StaffRoleRequired(self, role)
        return self.staff

    @property
    def nav(self) -> list[NavItem]:
        items = items_for(self.member.role if self.member else None)
        if self.member is None:
            return items
        return [i for i in items if self.may(NAV_STAFF.get(i.path, StaffRole.CLERK))]

    @property
    def signed_in(self) -> Member:
        assert self.member is not None, "use MemberCtx for pages that need a member"
        return self.member

    @property
    def csrf_token(self) -> str:
        """The token every POST form sends back: the session's, or before sign-in a
        random one kept in the `mlp_csrf` cookie (double submit)."""
        if self.session is not None:
            return self.session.csrf
        token = self.request.cookies.get(CSRF_COOKIE) or self._new_csrf
        if token is None:
            token = self._new_csrf = secrets.token_urlsafe(24)
        return token

    def _(self, message: str) -> str:
        return self.gettext.gettext(message)

    def require(self, *roles: Role) -> Member:
        member = self.signed_in
        if member.role not in roles:
            raise WrongRole(self)
        return member

    def explain(self, exc: Exception) -> str:
        return explain(failure(exc), self._)

    def lang_url(self, code: str) -> str:
        """This page in another language."""
        url = self.request.url.include_query_params(lang=code)
        return f"{url.path}?{url.query}"

    def render(self, template: str, /, **values: Any) -> HTMLResponse:
        """Render `template` with `ctx`, `_`, `fmt` and `values`. A `problem` (any error
        `portal.errors.failure` knows) is shown as the page's error banner, with its field
        errors, and makes the status 400/422 unless `status_code` says otherwise."""
        status_code = int(values.pop("status_code", 200))
        problem = values.pop("problem", None)
        if isinstance(problem, Exception) and not isinstance(problem, PortalFailure):
            problem = failure(problem)
        page = (
            templates()
            .get_template(template)
            .render(
                ctx=self,
                _=self._,
                gettext=self._,
                fmt=self.fmt,
                word=lambda name: self._(word(str(name))),
                problem=problem,
                error=explain(problem, self._) if problem else None,
                field_errors=problem.fields if problem else {},
                **values,
            )
        )
        if problem is not None and status_code == 200:
            status_code = 422 if problem.code == "invalid_request" else 400
        response = HTMLResponse(page, status_code=status_code)
        self.finish(response)
        return response

    def finish(self, response: Any) -> None:
        """Set the cookies this request decided on (language, pre-sign-in CSRF token)."""
        if self._new_csrf is not None:
            response.set_cookie(CSRF_COOKIE, self._new_csrf, httponly=True, samesite="lax")
        if self.request.query_params.get("lang") in LANGS:
            response.set_cookie(
                LANG_COOKIE, self.lang.code, max_age=365 * 24 * 3600, samesite="lax", path="/"
            )


def _session(request: Request, services: Services) -> Session | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        session = read_session(services.settings, cookie)
    except ApiError:  # no master key configured: nobody is signed in
        return None
    return None if session is None or is_revoked(services, session) else session


def _current_user(services: Services, session: Session) -> Session | None:
    """The session with its user's role and name as they are now (a manager may have
    changed them); None when a password user no longer exists or moved member."""
    if session.method != "password":
        return session
    found = find_user(services, session.username)
    if found is None or found[0].address != session.address:
        return None
    user = found[0]
    if (user.role, user.display_name) == (session.role, session.display_name):
        return session
    return replace(session, role=str(user.role), display_name=user.display_name)


def page_ctx(request: Request, services: ServicesDep) -> Ctx:
    lang = choose_lang(request)
    session = _session(request, services)
    member: Member | None = None
    if session is not None:
        session = _current_user(services, session)
    if session is not None:
        try:
            member = resolve_member(services, session.address, method=session.method)
        except ApiError:
            session = None  # suspended or removed: treat as signed out
    if session is not None and member is not None:
        request.state.audit_actor = (session.username, session.role, member.address)
    return Ctx(request, services, lang, session, member, translations(lang.locale))


PageCtx = Annotated[Ctx, Depends(page_ctx)]


def member_ctx(ctx: PageCtx) -> Ctx:
    if ctx.member is None:
        target = ctx.request.url.path
        if ctx.request.url.query:
            target += "?" + ctx.request.url.query
        raise SignInRequired(target)
    return ctx


MemberCtx = Annotated[Ctx, Depends(member_ctx)]


def role_ctx(*roles: Role) -> Any:
    """A dependency alias for pages of some roles: `Annotated[Ctx, role_ctx(Role.X)]`."""

    def dependency(ctx: MemberCtx) -> Ctx:
        ctx.require(*roles)
        return ctx

    return Depends(dependency)


async def check_csrf(request: Request, ctx: PageCtx) -> None:
    # Forms send the token as a field; htmx requests also in the X-CSRF-Token header.
    form = await request.form()
    sent = request.headers.get("x-csrf-token") or form.get("csrf_token")
    expected = ctx.session.csrf if ctx.session else request.cookies.get(CSRF_COOKIE, "")
    # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
    if (
        not isinstance(sent, str)
        or not expected
        or not hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise PortalFailure("csrf_failed", "the form's CSRF token does not match the session")
    path = request.url.path
    if ctx.session is not None and not path.startswith(OPEN_PATHS):
        action = form.get("action")
        ctx.require_staff(staff_role_for(path, action if isinstance(action, str) else None))


Csrf = Annotated[None, Depends(check_csrf)]
