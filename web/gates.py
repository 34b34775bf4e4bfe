"""The API's gates: credentials checked before a request's body is read (`api.http_guard`).

Each gate stands for one dependency and checks, cheaply and with the same errors, what
that dependency will check in full once the body is read:

    api.auth.current_member        a MedLedger token whose MAC verifies and has not
                                   expired, a known API key (an unknown one paid for
                                   by the client address, `api_key_member`), or (when
                                   configured) the proxy's client-certificate header;
                                   else 401
    api.oversight.require_regulator the regulator staff token (404 outside regulator mode)
    api.oversight.trace_scope      the first in regulator mode, else the member's

Whether the member is active on chain, and what it may do, the route still decides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials
from starlette.responses import Response

from medledger.domain.auth import verify_token
from medledger.domain.errors import ApiError, Unauthorized
from medledger.domain.services import Services
from medledger.web.members import api_key_member, current_member
from medledger.web.oversight import require_regulator, trace_scope
from medledger.web.problems import problem_for

__all__ = ["API_GATES", "member_gate", "regulator_gate", "trace_gate"]


def _bearer(request: Request) -> HTTPAuthorizationCredentials | None:
    """The bearer credentials as FastAPI's `HTTPBearer(auto_error=False)` reads them."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials:
        return None
    return HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)


def _check_member(services: Services, request: Request) -> None:
    bearer = _bearer(request)
    if bearer is not None:
        verify_token(services, bearer.credentials)
        return
    api_key = request.headers.get("x-api-key")
    if api_key:
        api_key_member(services, request, api_key, fresh=False)
        return
    header = services.settings.client_cert_header
    if header and request.headers.get(header):
        return  # the proxy verified it; the route checks it against the consortium CA
    raise Unauthorized(
        "authentication_required",
        "sign in (Authorization: Bearer <token>), or send X-API-Key or a client certificate",
    )


def _check_regulator(services: Services, request: Request) -> None:
    require_regulator(request, services, _bearer(request), request.headers.get("x-api-key"))


def _check_trace(services: Services, request: Request) -> None:
    if services.settings.regulator:
        _check_regulator(services, request)
    else:
        _check_member(services, request)


def _gate(check: Callable[[Services, Request], None]) -> Callable[[Request], Response | None]:
    def gate(request: Request) -> Response | None:
        try:
            check(request.app.state.services, request)
        except ApiError as exc:
            return problem_for(exc)
        return None

    return gate


member_gate = _gate(_check_member)
regulator_gate = _gate(_check_regulator)
trace_gate = _gate(_check_trace)

API_GATES: dict[Callable[..., Any], Callable[[Request], Response | None]] = {
    current_member: member_gate,
    require_regulator: regulator_gate,
    trace_scope: trace_gate,
}
