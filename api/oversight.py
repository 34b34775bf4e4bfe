"""Who may read across partners: the regulator-mode guard and the scope of trace reads.

In regulator mode (`medledger api --regulator`) the process is the regulator's own
deployment, over its follower node and indexer. Its staff present
`Authorization: Bearer <settings.regulator_api_token>` and see everything. In partner
mode the regulator routes answer 404 (they do not exist there), and trace/EPCIS reads
need a signed-in member and are scoped to the items it holds or has held.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import ServicesDep
from api.errors import Forbidden, NotFound, Unauthorized
from api.services import Services

__all__ = ["RegulatorOnly", "TraceScope", "TraceScopeDep", "require_regulator", "trace_scope"]

_bearer = HTTPBearer(auto_error=False, description="regulator staff token (regulator mode)")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _check_token(services: Services, bearer: HTTPAuthorizationCredentials | None) -> None:
    expected = services.settings.regulator_api_token
    if expected is None:
        raise Forbidden(
            "regulator_token_missing",
            "set MEDLEDGER_API_REGULATOR_API_TOKEN to open the regulator routes",
        )
    if bearer is None:
        raise Unauthorized("authentication_required", "send Authorization: Bearer <token>")
    if not hmac.compare_digest(bearer.credentials.encode(), expected.get_secret_value().encode()):
        raise Unauthorized("invalid_token", "the regulator token is not valid")


def require_regulator(services: ServicesDep, bearer: Bearer) -> None:
    """404 outside regulator mode; 401/403 without the regulator staff token."""
    if not services.settings.regulator:
        raise NotFound("not_found", "regulator routes exist only in regulator mode")
    _check_token(services, bearer)


RegulatorOnly = Depends(require_regulator)


@dataclass(frozen=True, slots=True)
class TraceScope:
    """Whose view a trace read takes: None = everything (the regulator)."""

    member: str | None

    @property
    def sees_everything(self) -> bool:
        return self.member is None


def trace_scope(services: ServicesDep, bearer: Bearer) -> TraceScope:
    if services.settings.regulator:
        _check_token(services, bearer)
        return TraceScope(None)
    raise Unauthorized(
        "partner_trace_unavailable",
        "partner traces need partner sign-in, which this deployment does not offer yet; "
        "use the regulator deployment",
    )


TraceScopeDep = Annotated[TraceScope, Depends(trace_scope)]
