"""Every write request in the audit trail (`domain.audit`), with no route left out: a pure
ASGI middleware around the API and the portal that, after each POST, PUT, PATCH or DELETE,
appends who (the actor the authentication step noted in `request.state.audit_actor`:
user, role, organisation), what (method and route, the form's `action` when a page noted
it in `request.state.audit_action`), on what (the route's path parameters) and the outcome
(`ok`, or the HTTP status). A request that never got as far as naming its actor (refused
before authentication) is not recorded: it did nothing and names no one.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medledger.domain import audit

__all__ = ["AuditTrail"]

log = logging.getLogger(__name__)
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class AuditTrail:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITES:
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        status = 500

        async def noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            actor = state.get("audit_actor")
            if actor is not None:
                await anyio.to_thread.run_sync(_record, scope, state, actor, status)


def _record(scope: Scope, state: dict[str, Any], actor: tuple[Any, ...], status: int) -> None:
    username, role, organisation = actor
    route = scope.get("route")
    path = getattr(route, "path", None) or scope.get("path", "")
    action = f"{scope['method']} {path}"
    if state.get("audit_action"):
        action += f" {state['audit_action']}"
    params = scope.get("path_params") or {}
    target = ",".join(f"{k}={v}" for k, v in sorted(params.items()))
    if state.get("audit_object"):
        target = ",".join(filter(None, (target, str(state["audit_object"]))))
    try:
        audit.record(
            scope["app"].state.services,
            organisation=organisation,
            username=str(username),
            role=str(role),
            action=action,
            object=target,
            outcome="ok" if status < 400 else str(status),
        )
    except Exception:  # the request is done; a trail that cannot be written is an alarm
        log.exception("audit trail: could not record %s by %s", action, username)
