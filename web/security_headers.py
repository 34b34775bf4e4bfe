"""Security headers on every response of the API and the portal (pure ASGI middleware).

- `Content-Security-Policy`: the portal loads only its own scripts, styles and images
  (htmx, Pico CSS and siwe.js are served from /portal/static; no inline script or style),
  posts forms only to itself and may not be framed (`frame-ancestors 'none'`). The API's
  interactive docs (/docs, /redoc) get FastAPI's CDN and inline bootstrap script.
- `X-Frame-Options: DENY` for browsers without CSP frame-ancestors.
- `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`.
- `Strict-Transport-Security` only when the request came over https (directly, or through
  a proxy uvicorn trusts to say so in X-Forwarded-Proto).

A header the response already carries is left as it is.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeaders", "security_headers"]

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors 'none'"
)
_CDN = "https://cdn.jsdelivr.net"
DOCS_POLICY = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {_CDN}; "
    f"style-src 'self' 'unsafe-inline' {_CDN}; img-src 'self' data: https://fastapi.tiangolo.com; "
    "worker-src blob:; connect-src 'self'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
HSTS = "max-age=31536000"

_COMMON = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


def security_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The headers every response to this request carries."""
    policy = DOCS_POLICY if scope.get("path") in DOCS_PATHS else PAGE_POLICY
    headers = [(b"content-security-policy", policy.encode()), *_COMMON]
    if scope.get("scheme") == "https":
        headers.append((b"strict-transport-security", HSTS.encode()))
    return headers


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
