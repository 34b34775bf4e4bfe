"""The portal's session cookie and CSRF tokens.

The cookie `mlp_session` holds `<payload>.<HMAC-SHA256>`: the payload (base64url JSON) names
the user (its name to show and its role inside the organisation), the member address, how
they signed in, a random CSRF token and an expiry; the
HMAC key is derived from the API master key
(`domain.custodial_keys.derive_key(..., "portal-session")`).
The cookie is HttpOnly and SameSite=Lax (Secure when the public URL is https). Every POST
form carries the session's CSRF token in the field `csrf_token` (see `portal.context`).
Signing out records the session's random token in `portal_revoked_sessions` (API
database, `indexer.store.sessions`) until the cookie would have expired, so a copied
cookie dies with the sign-out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import Response

from medledger.domain.custodial_keys import derive_key, master_key
from medledger.domain.services import Services
from medledger.domain.settings import ApiSettings
from medledger.domain.store import api_store
from medledger.indexer.store.sessions import is_token_revoked, revoke_token

__all__ = [
    "SESSION_COOKIE",
    "Session",
    "clear_session",
    "is_revoked",
    "read_session",
    "read_signed_value",
    "revoke",
    "signed_value",
    "write_session",
]

SESSION_COOKIE = "mlp_session"
SESSION_TTL_SECONDS = 8 * 3600  # one working shift


@dataclass(frozen=True, slots=True)
class Session:
    username: str  # the portal user, or the address when signed in with the member key
    address: str
    method: str  # "password" or "key"
    csrf: str
    expires_at: int
    # The user's role in its organisation (`domain.auth.StaffRole`); signed in with the
    # member key, one acts as the member itself: a manager.
    role: str = "manager"
    display_name: str = ""

    @classmethod
    def new(
        cls,
        *,
        username: str,
        address: str,
        method: str,
        role: str = "manager",
        display_name: str = "",
    ) -> Session:
        expires = int(time.time()) + SESSION_TTL_SECONDS
        token = secrets.token_urlsafe(24)
        return cls(username, address, method, token, expires, role, display_name or username)


def _mac(settings: ApiSettings, payload: str, purpose: str) -> str:
    key = derive_key(master_key(settings), purpose)
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def signed_value(settings: ApiSettings, data: dict[str, Any], *, purpose: str) -> str:
    """`<base64url JSON>.<HMAC>` of `data`, under the master key's `purpose` sub-key."""
    raw = json.dumps(data, separators=(",", ":")).encode()
    payload = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return f"{payload}.{_mac(settings, payload, purpose)}"


def read_signed_value(settings: ApiSettings, value: str | None, *, purpose: str) -> Any:
    """The data of a `signed_value` whose HMAC verifies, else None."""
    if not value or "." not in value:
        return None
    payload, _, mac = value.partition(".")
    if not hmac.compare_digest(mac.encode(), _mac(settings, payload, purpose).encode()):
        return None  # compared as bytes: a non-ASCII forgery is refused, not an error
    try:
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None


def write_session(response: Response, settings: ApiSettings, session: Session) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        signed_value(settings, asdict(session), purpose="portal-session"),
        max_age=SESSION_TTL_SECONDS,
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https:"),
        path="/",
    )


def read_session(settings: ApiSettings, cookie: str | None) -> Session | None:
    """The session in a cookie whose signature verifies and that has not expired."""
    data = read_signed_value(settings, cookie, purpose="portal-session")
    try:
        session = Session(**data)
    except TypeError:
        return None
    return session if session.expires_at > time.time() else None


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def revoke(services: Services, session: Session) -> None:
    """Sign the session out everywhere (until it would have expired anyway)."""
    revoke_token(
        api_store(services).engine, session.csrf, expires_at=session.expires_at, now=time.time()
    )


def is_revoked(services: Services, session: Session) -> bool:
    return is_token_revoked(api_store(services).engine, session.csrf)
