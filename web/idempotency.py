"""Idempotency-Key on every POST of the partner, regulator and EPCIS APIs (`/v1/…`), as in
draft-ietf-httpapi-idempotency-key-header (Stripe's behaviour the model); the use case is
`domain.idempotency`.

A POST that carries `Idempotency-Key: <key>` to a route that needs credentials runs once
per principal and key. The principal is whom the credentials name: a member (by token, API
key or client certificate: all of a member's credentials share its keys), or a regulator
staff user. Its fingerprint is the method, the path, the query string and the SHA-256 of
the raw body. A retry with the same fingerprint gets the first answer again, byte for byte
(status, headers, body), with `Idempotent-Replayed: true`, even after a restart; with
another fingerprint a 422 `idempotency_key_reused`; while the first still runs a 409
`idempotency_key_in_flight` with Retry-After. A malformed key (several headers, empty
after removing the quotes of a structured-field string, over 255 characters, anything
but printable ASCII) is a 400 `invalid_idempotency_key`. 2xx and 4xx answers are kept; a
5xx, or a request that failed on our side, is forgotten and a retry runs again. An answer
over `settings.idempotency_max_answer_bytes` is sent but not kept: a retry gets a 422
`idempotent_answer_not_kept` naming the first status. Routes without credentials (public
verification, sign-in) ignore the header: they have no principal to scope a key to, and a
sign-in answer is a token that must not be handed out twice.

Two parts, because the route (and so whether it needs credentials) is known only once
the router has matched it:

- `IdempotencyLayer`, a pure ASGI middleware (inside the body guard, so the body it sees
  is within the route's limits and behind its credentials), hashes the body as it passes
  and captures the answer, keeping it before the last byte is sent (so a retry made after
  the answer arrived finds it);
- `idempotent_request`, a dependency every route solves first (after FastAPI has read the
  body, before the route's own dependencies): it finds the principal, claims the key and
  answers a retry by raising `KeyedAnswer`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medledger.domain import idempotency
from medledger.domain.auth import (
    is_staff_key,
    verify_certificate,
    verify_staff_key,
    verify_token,
)
from medledger.domain.errors import ApiError, ProblemCode
from medledger.domain.services import Services
from medledger.web.members import api_key_member, current_member
from medledger.web.oversight import require_regulator, require_regulator_member, trace_scope
from medledger.web.problems import problem

__all__ = ["HEADER", "MAX_KEY_LENGTH", "IdempotencyLayer", "KeyedAnswer", "install_idempotency"]

HEADER = "Idempotency-Key"
REPLAYED = (b"idempotent-replayed", b"true")
MAX_KEY_LENGTH = 255
_STATE = "idempotency"
_NOT_KEPT = frozenset({b"set-cookie"})  # never handed to whoever retries
_log = logging.getLogger(__name__)

# The route dependencies that name a principal, and which kind.
_MEMBER, _STAFF, _TRACE = "member", "staff", "trace"
_AUTH: dict[Callable[..., Any], str] = {
    current_member: _MEMBER,
    require_regulator_member: _MEMBER,
    require_regulator: _STAFF,
    trace_scope: _TRACE,
}


class KeyedAnswer(StarletteHTTPException):
    """What a keyed request gets instead of running: the first answer, or a refusal."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class _Replayed(Response):
    def __init__(self, answer: idempotency.Answer) -> None:
        super().__init__(content=answer.body, status_code=answer.status)
        self.raw_headers = [*answer.headers, REPLAYED]


@dataclass
class _Exchange:
    """One keyed POST as the middleware and the dependency share it."""

    keys: list[bytes]
    digest: Any = field(default_factory=hashlib.sha256)
    body_read: bool = False
    run: idempotency.Run | None = None
    status: int | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0


class IdempotencyLayer:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].startswith("/v1/")
        ):
            await self.app(scope, receive, send)
            return
        keys = [value for name, value in scope["headers"] if name == b"idempotency-key"]
        if not keys:
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(keys)
        scope.setdefault("state", {})[_STATE] = exchange
        services: Services = scope["app"].state.services

        async def hashing() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                exchange.digest.update(message.get("body", b""))
                exchange.body_read = not message.get("more_body", False)
            return message

        async def capturing(message: Message) -> None:
            if exchange.run is not None:
                await _capture(services, exchange, message)
            await send(message)

        try:
            await self.app(scope, hashing, capturing)
        finally:
            if exchange.run is not None:  # no complete answer was sent: a retry runs again
                await anyio.to_thread.run_sync(idempotency.abandon, services, exchange.run)


async def _capture(services: Services, exchange: _Exchange, message: Message) -> None:
    """Note the answer as it goes out; keep it (or forget the key, for a 5xx) before its
    last byte is sent."""
    if message["type"] == "http.response.start":
        exchange.status = int(message["status"])
        exchange.headers = [(bytes(n), bytes(v)) for n, v in message.get("headers", [])]
        return
    if message["type"] != "http.response.body":
        return
    body = message.get("body", b"")
    exchange.size += len(body)
    if exchange.size <= services.settings.idempotency_max_answer_bytes:
        exchange.chunks.append(body)
    if message.get("more_body", False):
        return
    run, exchange.run = exchange.run, None
    assert run is not None and exchange.status is not None
    try:
        if exchange.status >= 500:
            await anyio.to_thread.run_sync(idempotency.abandon, services, run)
            return
        headers = [(n, v) for n, v in exchange.headers if n.lower() not in _NOT_KEPT]
        answer = idempotency.Answer(exchange.status, headers, b"".join(exchange.chunks))
        kept = exchange.size <= services.settings.idempotency_max_answer_bytes

        def keep() -> None:
            idempotency.finish(services, run, answer, keep_body=kept)

        await anyio.to_thread.run_sync(keep)
    except Exception:  # the answer still goes out; the lease runs out and a retry runs
        _log.exception("idempotency: could not keep the answer to key %r", run.key)


def parse_key(values: list[bytes]) -> str:
    """The key of the Idempotency-Key header, or KeyedAnswer with a 400."""
    if len(values) != 1:
        raise _refusal(400, "Bad request", f"send one {HEADER} header, not {len(values)}")
    raw = values[0].strip(b" \t")
    if len(raw) >= 2 and raw[:1] == raw[-1:] == b'"':  # a structured-field string
        raw = raw[1:-1]
    if not raw:
        raise _refusal(400, "Bad request", f"the {HEADER} is empty")
    if len(raw) > MAX_KEY_LENGTH:
        detail = f"the {HEADER} has {len(raw)} characters; at most {MAX_KEY_LENGTH}"
        raise _refusal(400, "Bad request", detail)
    if any(b < 0x20 or b > 0x7E for b in raw):
        raise _refusal(400, "Bad request", f"the {HEADER} holds a byte that is not printable ASCII")
    return raw.decode("ascii")


def _refusal(status: int, title: str, detail: str, **extra: Any) -> KeyedAnswer:
    code = {
        400: ProblemCode.INVALID_IDEMPOTENCY_KEY,
        409: ProblemCode.IDEMPOTENCY_KEY_IN_FLIGHT,
    }.get(status, ProblemCode.IDEMPOTENCY_KEY_REUSED)
    headers = {"Retry-After": str(extra["retry_after"])} if "retry_after" in extra else None
    return KeyedAnswer(problem(status, code, title, detail, headers=headers, **extra))


async def idempotent_request(request: Request) -> None:
    """Solved first on every route: claims a keyed POST's key, or answers its retry."""
    exchange: _Exchange | None = request.scope.get("state", {}).get(_STATE)
    if exchange is None or exchange.run is not None:
        return
    services: Services = request.app.state.services
    kind = _principal_kind(request.scope.get("route"), services)
    if kind is None:
        return  # a route without credentials ignores the header
    try:
        key = parse_key(exchange.keys)
    except KeyedAnswer:
        request.scope["state"].pop("audit_actor", None)
        raise
    if not exchange.body_read:  # a route that reads its body later, or takes none
        await request.body()
    principal = await run_in_threadpool(_principal, services, request, kind)
    if principal is None:
        return  # the route's own credential check refuses the request
    scope = request.scope
    fingerprint = hashlib.sha256(
        b"\0".join(
            (b"POST", scope["path"].encode(), scope["query_string"], exchange.digest.digest())
        )
    ).digest()
    outcome = await run_in_threadpool(
        idempotency.begin, services, principal=principal, key=key, fingerprint=fingerprint
    )
    if isinstance(outcome, idempotency.Run):
        exchange.run = outcome
        return
    # Nothing is done: the audit trail (which a router's own credential check may already
    # have told the actor) records no write.
    request.scope["state"].pop("audit_actor", None)
    if isinstance(outcome, idempotency.Replay):
        raise KeyedAnswer(_Replayed(outcome.answer))
    elif isinstance(outcome, idempotency.KeyReused):
        detail = f"the {HEADER} {key!r} was used for another request (method, path, query or body)"
        raise _refusal(422, "Unprocessable request", detail)
    elif isinstance(outcome, idempotency.InFlight):
        detail = f"the request with {HEADER} {key!r} is still running; retry later"
        raise _refusal(409, "Conflict", detail, retry_after=outcome.retry_after)
    else:
        limit = services.settings.idempotency_max_answer_bytes
        raise KeyedAnswer(
            problem(
                422,
                ProblemCode.IDEMPOTENT_ANSWER_NOT_KEPT,
                "Unprocessable request",
                f"the request with {HEADER} {key!r} was answered {outcome.status}, with more "
                f"than {limit:,} bytes, which are not kept; read the result with a GET",
                first_status=outcome.status,
            )
        )


_KINDS: dict[int, tuple[object, str | None]] = {}


def _principal_kind(route: object, services: Services) -> str | None:
    """Which principal `route` names (from its dependencies), None for a public route."""
    found = _KINDS.get(id(route))
    if found is None or found[0] is not route:
        dependant: Dependant | None = getattr(route, "dependant", None)
        pending = [dependant] if dependant is not None else []
        kinds: set[str] = set()
        while pending:
            current = pending.pop()
            if current.call in _AUTH:
                kinds.add(_AUTH[current.call])
            pending.extend(current.dependencies)
        kind = _STAFF if _STAFF in kinds else next(iter(sorted(kinds)), None)
        if len(_KINDS) > 4096:
            _KINDS.clear()
        found = _KINDS[id(route)] = (route, kind)
    kind = found[1]
    if kind == _TRACE:
        return _STAFF if services.settings.regulator else _MEMBER
    return kind


def _principal(services: Services, request: Request, kind: str) -> str | None:
    """Whom the request's credentials name, as the route will check them; None if they
    do not verify (the route then answers 401 itself)."""
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    bearer = bearer if scheme.lower() == "bearer" else ""
    api_key = request.headers.get("x-api-key")
    try:
        if kind == _STAFF:
            return _staff(services, api_key or bearer)
        if bearer:
            return "member:" + verify_token(services, bearer).lower()
        if api_key:
            return "member:" + api_key_member(services, request, api_key, fresh=False).lower()
        header = services.settings.client_cert_header
        if header and (value := request.headers.get(header)):
            return "member:" + verify_certificate(services, unquote(value))[1].lower()
    except ApiError:
        return None
    return None


def _staff(services: Services, credential: str) -> str | None:
    if not credential:
        return None
    if is_staff_key(credential):
        return "staff:" + verify_staff_key(services, credential).username
    expected = services.settings.regulator_api_token
    if expected is not None and hmac.compare_digest(
        credential.encode(), expected.get_secret_value().encode()
    ):
        return "staff:regulator-token"
    return None


def install_idempotency(app: FastAPI) -> None:
    """Add the middleware (call before the audit trail's, so it runs inside the body guard)
    and the dependency every route solves first (call before including any router)."""
    app.add_middleware(IdempotencyLayer)
    app.router.dependencies.insert(0, Depends(idempotent_request))

    async def _answer(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, KeyedAnswer)
        return exc.response

    app.add_exception_handler(KeyedAnswer, _answer)
    _document_header(app)


_PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": (
        "retry this POST safely: the same key and request get the first answer again "
        "(Idempotent-Replayed: true); kept 24 h per principal"
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH,
               "pattern": "^[\\x21-\\x7e]([\\x20-\\x7e]*[\\x21-\\x7e])?$"},
}  # fmt: skip


def _document_header(app: FastAPI) -> None:
    """Name the header on every POST that needs credentials in the OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        for path_item in schema.get("paths", {}).values():
            operation = path_item.get("post")
            if operation is None or not operation.get("security"):
                continue
            parameters = operation.setdefault("parameters", [])
            if not any(p.get("name") == HEADER for p in parameters):
                parameters.append(dict(_PARAMETER))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
