"""Mounts the portal on the API app: `install_portal(app)` (called by `medledger.app`).

It serves `/portal/static/` (our CSS and JS) and the vendored npm packages htmx
(`/portal/static/vendor/htmx/`) and Pico CSS (`/portal/static/vendor/pico/`) straight from
`node_modules` (installed by `make setup`; no CDN), includes every page router listed in
`PAGE_MODULES`, and answers the portal's own exceptions (sign-in needed → redirect, wrong
role → 403 page, failed CSRF → 403 page).

It also tells the API's request guard (`api.http_guard`) what the portal needs: a POST to a
page for members is refused with the sign-in redirect before its body is read unless it
carries a valid session cookie, and only the forms that upload documents take bodies
larger than the guard's default.

To add a page family: write `portal/routes/<name>.py` with `router = APIRouter(prefix=
"/portal/<name>", include_in_schema=False)`, register its menu entries with
`portal.nav.register(...)`, add templates under `portal/templates/<name>/`, and add the
module to `PAGE_MODULES` below. See `portal/__init__.py` for the full recipe.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from medledger.domain.document_upload import MAX_DOCUMENT_BYTES
from medledger.domain.errors import ApiError
from medledger.portal.context import (
    ROLE_NAMES,
    SignInRequired,
    StaffRoleRequired,
    WrongRole,
    member_ctx,
    page_ctx,
)
from medledger.portal.errors import PortalFailure, PortalStartupError
from medledger.portal.sessions import SESSION_COOKIE, read_session
from medledger.web.http_guard import GuardRules

__all__ = ["PAGE_MODULES", "install_portal", "page_module"]

PORTAL = Path(__file__).resolve().parent
NODE_MODULES = PORTAL.parent / "node_modules"
VENDOR = {
    "htmx": NODE_MODULES / "htmx.org" / "dist",
    "pico": NODE_MODULES / "@picocss" / "pico" / "css",
}
# Page routers, in the order they are matched; each module has a `router`.
PAGE_MODULES = [
    "medledger.portal.routes.landing",
    "medledger.portal.routes.signin",
    "medledger.portal.routes.verify",
    "medledger.portal.routes.manufacturer",
    "medledger.portal.routes.master_data",
    "medledger.portal.routes.packing",
    "medledger.portal.routes.shipments",
    "medledger.portal.routes.documents",
    "medledger.portal.routes.distributor",
    "medledger.portal.routes.hospital",
    "medledger.portal.routes.regulator",
    "medledger.portal.routes.trace",
    "medledger.portal.routes.recalls",
    "medledger.portal.routes.recall_workspace",
    "medledger.portal.routes.labels",
    "medledger.portal.routes.adverse_events",
    "medledger.portal.routes.records",
    "medledger.portal.routes.users",
    "medledger.portal.routes.exports",
    "medledger.portal.routes.qualification",
    "medledger.portal.routes.sites",
    "medledger.portal.routes.return_inspection",
    "medledger.portal.routes.registration_renewal",
    "medledger.portal.routes.imports",
    "medledger.portal.routes.notifications",
    "medledger.portal.routes.subscriptions",
]
# The forms that upload documents (`multiple` file inputs: room for four at the limit).
UPLOAD_FORM_BYTES = 4 * MAX_DOCUMENT_BYTES + 256 * 1024
UPLOAD_FORMS = (
    "/portal/documents/attach",
    "/portal/manufacturer/products",
    "/portal/shipments/outbound",
    "/portal/shipments/inbound/{shipment_id}",
    "/portal/manufacturer/master-data/import",
    "/portal/qualification/suppliers",
    "/portal/qualification/products",
    "/portal/registration-renewal",
    "/portal/imports",
)


class _StaticFiles(StaticFiles):
    """Static files, where a path the file system refuses (a NUL byte) is not found."""

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        try:
            return super().lookup_path(path)
        except (ValueError, OSError):
            return "", None


def install_portal(app: FastAPI) -> None:
    for name, directory in VENDOR.items():
        app.mount(
            f"/portal/static/vendor/{name}",
            _StaticFiles(directory=directory, check_dir=False),
            name=f"portal-vendor-{name}",
        )
    app.mount("/portal/static", _StaticFiles(directory=PORTAL / "static"), name="portal-static")
    for module_name in PAGE_MODULES:
        app.include_router(page_module(module_name).router)
    _install_handlers(app)
    rules: GuardRules = app.state.http_guard
    rules.gates[member_ctx] = _session_gate
    rules.body_bytes.update(dict.fromkeys(UPLOAD_FORMS, UPLOAD_FORM_BYTES))


def page_module(name: str) -> ModuleType:
    """A page module of `PAGE_MODULES`, imported; one that fails to import, or has no
    `router`, stops start-up with an error naming it (a page family is never left out)."""
    try:
        module = importlib.import_module(name)
    except Exception as exc:
        raise PortalStartupError(name, f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(getattr(module, "router", None), APIRouter):
        raise PortalStartupError(name, "it has no `router` (an APIRouter)")
    return module


def _sign_in_redirect(next_url: str) -> Response:
    return RedirectResponse(f"/portal/sign-in?next={quote(next_url)}", status_code=303)


def _session_gate(request: Request) -> Response | None:
    """The guard's check for member pages: a session cookie whose signature verifies and
    that has not expired (revocation and the member's standing the page checks)."""
    try:
        session = read_session(
            request.app.state.services.settings, request.cookies.get(SESSION_COOKIE)
        )
    except ApiError:  # no master key configured: nobody is signed in
        session = None
    if session is not None:
        return None
    query = request.url.query
    return _sign_in_redirect(request.url.path + (f"?{query}" if query else ""))


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def _sign_in(_: Request, exc: SignInRequired) -> Response:
        return _sign_in_redirect(exc.next_url)

    @app.exception_handler(WrongRole)
    async def _wrong_role(_: Request, exc: WrongRole) -> HTMLResponse:
        path = exc.ctx.request.url.path
        failure = PortalFailure("forbidden_role", f"{path} is not for your role")
        return exc.ctx.render("error.html", problem=failure, status_code=403)

    @app.exception_handler(StaffRoleRequired)
    async def _staff_role(_: Request, exc: StaffRoleRequired) -> HTMLResponse:
        failure = PortalFailure(
            "staff_role_required", str(exc), params={"role": exc.ctx._(ROLE_NAMES[exc.needed])}
        )
        return exc.ctx.render("error.html", problem=failure, status_code=403)

    @app.exception_handler(PortalFailure)
    async def _failure(request: Request, exc: PortalFailure) -> HTMLResponse:
        ctx = page_ctx(request, request.app.state.services)
        status = 403 if exc.code == "csrf_failed" else 400
        return ctx.render("error.html", problem=exc, status_code=status)
