"""Request bodies kept under control before any route sees them (pure ASGI middleware).

Every HTTP request passes these checks, in this order:

1. **Head**: a NUL or other control character in the decoded path is a 400 `invalid_path`
   (file lookups would fail on it with a 500); a Content-Length that is not a size is a
   400 `invalid_content_length`. A request without a body goes on unchecked from here.
2. **Credentials before the body**: a request with a body to a route that needs credentials
   first passes the route's *gate* (a cheap check of the same credential the route will
   check in full: token MAC, API key, regulator token, portal session cookie). Refused,
   it gets the gate's answer at once (401 problem+json, or the portal's sign-in redirect),
   the connection is closed and no byte of the body is read.
3. **Size**: each route has a body limit (`GuardRules.default_body_bytes`, larger only
   where `GuardRules.body_bytes` names the route): a Content-Length above it is a 413
   `body_too_large` at once; a chunked body is counted as it streams and cut at the limit.
4. **Time**: a body must start within `settings.body_timeout_seconds` and then keep
   arriving at `settings.body_min_bytes_per_second` on average, else a 408 `body_timeout`.
5. **JSON depth**: a body that is not a form (multipart or urlencoded) is read whole,
   within its limit, and its nesting measured with `sdk.bounded_json` before FastAPI may
   parse it: deeper than `MAX_JSON_DEPTH` is a 400 `json_too_deep`. (py_ecc raises the
   recursion limit to 100,000, so `json.loads` of 100,000 `[` overflows the C stack.)

Steps 2 to 5 run when the matched route first asks for the body (FastAPI reads it before
it solves any dependency), so the route is known and a route that reads no body costs
nothing. A refusal there is raised from `receive` as `Refused`, an HTTPException that
FastAPI's body parsing passes on, carrying the answer `install_http_guard`'s handler sends.
A route's gates are found from its dependencies: `GuardRules.gates` maps a dependency
(e.g. `api.auth.current_member`) to the gate that checks what it checks.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medledger.domain.settings import ApiSettings
from medledger.sdk.bounded_json import DEFAULT_MAX_DEPTH, nesting_depth
from medledger.web.problems import problem

__all__ = ["MAX_JSON_DEPTH", "Gate", "GuardRules", "HttpGuard", "Refused", "install_http_guard"]

MAX_JSON_DEPTH = DEFAULT_MAX_DEPTH
Gate = Callable[[Request], Response | None]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LENGTH = re.compile(r"[0-9]{1,19}")
_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")
_TITLES = {
    400: "Bad request",
    408: "Request timeout",
    413: "Content too large",
    500: "Internal error",
}
_log = logging.getLogger(__name__)


class Refused(StarletteHTTPException):
    """A request refused by the guard while a route reads its body, with the answer; an
    HTTPException so that FastAPI's body parsing passes it on."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        response.headers["Connection"] = "close"  # the rest of the body is never read
        self.response = response


def refused(status: int, code: str, detail: str) -> Refused:
    return Refused(problem(status, code, _TITLES[status], detail))


@dataclass
class GuardRules:
    default_body_bytes: int = 256 * 1024
    body_bytes: dict[str, int] = field(default_factory=dict)  # route path template -> limit
    gates: dict[Callable[..., Any], Gate] = field(default_factory=dict)  # dependency -> gate


@dataclass(frozen=True)
class _Policy:
    body_bytes: int
    gates: tuple[Gate, ...]


class HttpGuard:
    def __init__(self, app: ASGIApp, *, rules: GuardRules) -> None:
        self.app = app
        self.rules = rules
        self._policies: dict[int, tuple[object, _Policy]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if _CONTROL.search(scope["path"]):
            answer = refused(400, "invalid_path", "the path holds a control character")
        elif declared is not None and not _LENGTH.fullmatch(declared):
            answer = refused(400, "invalid_content_length", "Content-Length is not a size")
        else:
            answer = None
        if answer is not None:
            await answer.response(scope, receive, send)
            return
        length = None if declared is None else int(declared)
        if not length and "transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body: nothing to guard
            return
        media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        body = _Body(self, scope, receive, length=length, form=media_type in _FORMS)
        await self.app(scope, body.receive, send)

    def policy(self, route: object) -> _Policy:
        """The body limit and gates of the matched route (cached per route object)."""
        found = self._policies.get(id(route))
        if found is not None and found[0] is route:
            return found[1]
        limit = self.rules.body_bytes.get(getattr(route, "path", ""), self.rules.default_body_bytes)
        dependant: Dependant | None = getattr(route, "dependant", None)
        calls: list[Callable[..., Any]] = []
        pending = [dependant] if dependant is not None else []
        while pending:
            current = pending.pop()
            if current.call is not None:
                calls.append(current.call)
            pending.extend(current.dependencies)
        gates = dict.fromkeys(self.rules.gates[c] for c in calls if c in self.rules.gates)
        policy = _Policy(limit, tuple(gates))
        if len(self._policies) > 4096:  # FastAPI keeps its route objects; this is a backstop
            self._policies.clear()
        self._policies[id(route)] = (route, policy)
        return policy


class _Body:
    """The request's `receive` as the guard hands it to the app: the first call admits the
    body (gates, then its declared size), then every chunk is counted against the route's
    limit and the deadline; a body that is not a form is read whole and its nesting checked
    before the app sees any of it."""

    def __init__(
        self, guard: HttpGuard, scope: Scope, receive: Receive, *, length: int | None, form: bool
    ) -> None:
        self._guard = guard
        self._scope = scope
        self._receive = receive
        self._length = length
        self._form = form
        settings: ApiSettings = scope["app"].state.services.settings
        self._grace = settings.body_timeout_seconds
        self._rate = settings.body_min_bytes_per_second
        self._limit: int | None = None  # set once admitted
        self._started = 0.0
        self._received = 0
        self._complete = False

    async def receive(self) -> Message:
        if self._limit is None:
            await self._admit()
            if not self._form:
                return await self._whole()
        if self._complete:
            return await self._receive()
        return await self._chunk()

    async def _admit(self) -> None:
        policy = self._guard.policy(self._scope.get("route"))
        for gate in policy.gates:
            try:
                answer = await run_in_threadpool(gate, Request(self._scope))
            except Exception as exc:  # FastAPI would turn it into a 400 "error parsing the body"
                _log.exception("the credential check before the body failed")
                detail = "the request failed on our side; it has been logged"
                raise refused(500, "internal_error", detail) from exc
            if answer is not None:
                raise Refused(answer)
        self._limit = policy.body_bytes
        if self._length is not None and self._length > self._limit:
            raise refused(413, "body_too_large", f"this route takes at most {self._limit:,} bytes")
        self._started = time.monotonic()

    async def _chunk(self) -> Message:
        left = self._started + self._grace + self._received / self._rate - time.monotonic()
        message: Message | None = None
        with anyio.move_on_after(max(left, 0)):
            message = await self._receive()
        if message is None:
            raise refused(408, "body_timeout", "the request body arrived too slowly")
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            assert self._limit is not None
            if self._received > self._limit:
                raise refused(
                    413, "body_too_large", f"this route takes at most {self._limit:,} bytes"
                )
            self._complete = not message.get("more_body", False)
        return message

    async def _whole(self) -> Message:
        chunks: list[bytes] = []
        while not self._complete:
            message = await self._chunk()
            if message["type"] == "http.disconnect":
                return message
            chunks.append(message.get("body", b""))
        raw = b"".join(chunks)
        if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and (
            nesting_depth(raw, stop_above=MAX_JSON_DEPTH) > MAX_JSON_DEPTH
        ):
            detail = f"the body nests deeper than {MAX_JSON_DEPTH} levels of arrays and objects"
            raise refused(400, "json_too_deep", detail)
        return {"type": "http.request", "body": raw, "more_body": False}


def install_http_guard(app: FastAPI, rules: GuardRules) -> None:
    """Add the guard (keep it inside the security headers' middleware) and answer the
    `Refused` raised while a route reads a body."""
    app.add_middleware(HttpGuard, rules=rules)
    app.state.http_guard = rules

    async def _refused(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        return exc.response

    app.add_exception_handler(Refused, _refused)
