"""Who may read across partners: the regulator-mode guard and the scope of trace reads.

In regulator mode (`medledger api --regulator`) the process is the regulator's own
deployment, over its follower node and indexer. Each of its staff presents a personal
key, `Authorization: Bearer mls_…` or `X-API-Key: mls_…` (`domain.auth.create_staff_key`,
`medledger portal staff-key USER`), and sees everything; the audit trail names that user.
The former shared `settings.regulator_api_token` is still accepted while it is configured
(deprecated: it names no one, and is recorded as the user "regulator-token"). In partner
mode the regulator routes answer 404 (they do not exist there), and trace/EPCIS reads
need a signed-in member and are scoped to the items it holds or has held.

The partner API's oversight feed (`domain.oversight_feed`) is the other way round: it exists
in partner mode only, and only the regulator member, signed in with its ledger key like
any member, may read it (`RegulatorMemberOnly`).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from medledger.domain.auth import Member, is_staff_key, verify_staff_key
from medledger.domain.errors import Forbidden, NotFound, Unauthorized
from medledger.domain.services import Services
from medledger.domain.trace import TraceScope
from medledger.web.deps import ServicesDep
from medledger.web.members import current_member

__all__ = [
    "RegulatorMemberOnly",
    "RegulatorOnly",
    "TraceScope",
    "TraceScopeDep",
    "check_regulator_member",
    "require_regulator",
    "require_regulator_member",
    "trace_scope",
]

_bearer = HTTPBearer(auto_error=False, description="regulator staff token (regulator mode)")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="machine clients")
ApiKey = Annotated[str | None, Depends(_api_key)]


def _check_token(
    request: Request,
    services: Services,
    bearer: HTTPAuthorizationCredentials | None,
    api_key: str | None = None,
) -> None:
    """A staff member's own key (noted in `request.state.audit_actor`), or the deprecated
    shared token while it is configured."""
    credential = api_key or (bearer.credentials if bearer is not None else None)
    if credential is None:
        raise Unauthorized("authentication_required", "send Authorization: Bearer <your staff key>")
    if is_staff_key(credential):
        staff = verify_staff_key(services, credential)
        request.state.audit_actor = (staff.username, str(staff.role), staff.organisation)
        return
    expected = services.settings.regulator_api_token
    if expected is None:
        raise Unauthorized("invalid_token", "send your personal staff key (mls_…)")
    if not hmac.compare_digest(credential.encode(), expected.get_secret_value().encode()):
        raise Unauthorized("invalid_token", "the regulator token is not valid")
    request.state.audit_actor = ("regulator-token", "manager", None)


def require_regulator(
    request: Request, services: ServicesDep, bearer: Bearer, api_key: ApiKey
) -> None:
    """404 outside regulator mode; 401 without a staff key (or the deprecated token)."""
    if not services.settings.regulator:
        raise NotFound("not_found", "regulator routes exist only in regulator mode")
    _check_token(request, services, bearer, api_key)


RegulatorOnly = Depends(require_regulator)


def require_regulator_member(
    request: Request, services: ServicesDep, bearer: Bearer, api_key: ApiKey
) -> None:
    """404 in regulator mode; 401 without a member sign-in; 403 for any member but the
    regulator."""
    if services.settings.regulator:
        raise NotFound("not_found", "the oversight feed is served by the partner API")
    check_regulator_member(services, current_member(request, services, bearer, api_key))


def check_regulator_member(services: Services, member: Member) -> None:
    """As `require_regulator_member`, for a route that validates its body first (a write:
    a member's malformed body is a 422 whatever its role)."""
    if services.settings.regulator:
        raise NotFound("not_found", "the oversight feed is served by the partner API")
    if not member.is_regulator:
        raise Forbidden("regulator_only", "only the regulator member reads the oversight feed")


RegulatorMemberOnly = Depends(require_regulator_member)


def trace_scope(
    request: Request, services: ServicesDep, bearer: Bearer, api_key: ApiKey
) -> TraceScope:
    """Regulator mode: everything, with the staff token. Partner mode: the signed-in
    member's view (a regulator member signed in to the partner API sees everything)."""
    if services.settings.regulator:
        _check_token(request, services, bearer, api_key)
        return TraceScope(None)
    member = current_member(request, services, bearer, api_key)
    return TraceScope(None if member.is_regulator else member.address)


TraceScopeDep = Annotated[TraceScope, Depends(trace_scope)]
