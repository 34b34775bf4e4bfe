"""Public verification routes (no login): `/v1/verify`, the GS1 Digital Link resolver paths
`/01/{gtin}[/10/{lot}]/21/{serial}`, `/01/{gtin}/10/{lot}` (a lot code) and `/00/{sscc}`,
and the response-signing key at `/.well-known/medledger-verify-key`.

Every verdict (`domain.verifier.judge`) is the canonical JSON of a `VerifyResult`, signed
with the platform's Ed25519 key (domain.signing); every request is charged to its client's
token bucket (web.verify_limit), shared by all worker processes.

The path is kept short because it is the API's hot one: async handlers (no thread-pool hop)
reading through one long-lived connection per process (`indexer.queries.verification.
DirectSql`), scans queued and written in batches by a background thread
(`indexer.queries.scans.ScanLog`, flushed at shutdown), and orjson for the signed body. Only
the browser page renders in the thread pool. The resolver serves browsers the verification
page registered with `serve_verdict_pages` (the portal's, wired by `medledger.app`) and the
same signed JSON to `Accept: application/json`.

The regulator member reads the scan log through `GET /v1/partner/oversight/scans`
(`domain.oversight_feed`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Protocol
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from medledger.domain.oversight_feed import MAX_PAGE, ScanPage, scan_page
from medledger.domain.services import Services
from medledger.domain.signing import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    canonical_json,
    public_jwk,
    signed_headers,
)
from medledger.domain.verification import Location, VerifyResult
from medledger.domain.verifier import MAX_CODE, close_verifier, judge
from medledger.sdk.errors import Gs1Error
from medledger.web.deps import ServicesDep
from medledger.web.oversight import RegulatorMemberOnly
from medledger.web.problems import PROBLEM_JSON
from medledger.web.verify_limit import RateLimit, close_verify_buckets, rate_limit, scan_member

__all__ = ["VerdictPage", "router", "serve_verdict_pages"]


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    services = getattr(app.state, "services", None)
    if isinstance(services, Services):
        close_verifier(services)
        close_verify_buckets(services)


router = APIRouter(tags=["verify"], lifespan=_lifespan)


class VerdictPage(Protocol):
    """A face's human page for a verdict, or for why a code is invalid."""

    def __call__(
        self,
        request: Request,
        services: Services,
        *,
        code: str,
        result: VerifyResult | None = None,
        error: Gs1Error | None = None,
    ) -> Response: ...


def serve_verdict_pages(app: FastAPI, page: VerdictPage) -> None:
    """Let the resolver answer browsers with `page`; without one it answers JSON only."""
    app.state.verdict_page = page


def _verdict_page(request: Request) -> VerdictPage | None:
    page: VerdictPage | None = getattr(request.app.state, "verdict_page", None)
    return page


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _judge(request: Request, code: str, location: Location | None) -> VerifyResult:
    return judge(_services(request), code=code, location=location, member=scan_member(request))


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        min_length=1,
        max_length=MAX_CODE,
        description="A GS1 element string (with parentheses or GS separators), a raw "
        "DataMatrix payload with its symbology identifier, or a GS1 Digital Link URI.",
        examples=["(01)09506000134352(17)281231(10)LOT2026A(21)SN000001"],
    )
    location: Location | None = None


class VerifyKey(BaseModel):
    """The platform's response-signing key as a JWK set, and how answers are signed."""

    keys: list[dict[str, str]]
    signature_header: str
    key_id_header: str
    signed_content: str


def _signed(services: Services, result: VerifyResult) -> Response:
    body = canonical_json(result.model_dump(mode="json"))
    return Response(
        content=body,
        media_type="application/json",
        headers=signed_headers(services.platform_key, body),
    )


class VerifyQuery(Location):
    """`/v1/verify` query: the code, and optionally where it was scanned (coarsely)."""

    code: str = Field(min_length=1, max_length=MAX_CODE)


async def _verify_get(request: Request) -> Response:
    """GET /v1/verify, served as a plain Starlette route: the public scanner's hot path
    skips FastAPI's per-request dependency and query-model solving. It checks what the
    documented route below declares (same `VerifyQuery`, same rate limit, same errors)."""
    await rate_limit(request)
    try:
        query = VerifyQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from exc
    services = _services(request)
    location = None
    if any(v is not None for v in (query.country, query.region, query.lat, query.lon)):
        location = Location.model_validate(query.model_dump(exclude={"code"}))
    return _signed(services, _judge(request, query.code, location))


# Matched before the documented route of the same path and method.
router.add_route("/v1/verify", _verify_get, methods=["GET"], include_in_schema=False)


@router.get("/v1/verify", response_model=VerifyResult, dependencies=[RateLimit])
async def verify_get(request: Request, query: Annotated[VerifyQuery, Query()]) -> Response:
    """Verify a scanned code; the answer is signed (see /.well-known/medledger-verify-key)."""
    return await _verify_get(request)  # documents the route; requests go to the one above


@router.post("/v1/verify", response_model=VerifyResult, dependencies=[RateLimit])
async def verify_post(request: Request, body: VerifyRequest) -> Response:
    """Verify a scanned code, with an optional coarse location of the scan."""
    services = _services(request)
    return _signed(services, _judge(request, body.code, body.location))


@router.get(
    "/v1/partner/oversight/scans",
    response_model=ScanPage,
    tags=["oversight"],
    dependencies=[RegulatorMemberOnly],
)
def oversight_scans(
    services: ServicesDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="the last row id read")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 500,
) -> ScanPage:
    """The regulator's feed of verification scans, oldest first: unit, time, coarse place
    and the member that scanned with an API key (none for anonymous scans); no IPs."""
    return scan_page(services, after=after, limit=limit)


@router.get("/.well-known/medledger-verify-key", response_model=VerifyKey)
def verify_key(services: ServicesDep) -> VerifyKey:
    """The Ed25519 public key that signs verification answers."""
    return VerifyKey(
        keys=[public_jwk(services.platform_key)],
        signature_header=SIGNATURE_HEADER,
        key_id_header=KEY_ID_HEADER,
        signed_content="the exact bytes of the response body (canonical JSON, UTF-8)",
    )


# --------------------------------------------------------------------------- resolver

_RESOLVER_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The human verification page, or the signed verdict as JSON",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
    400: {
        "description": "The code is not valid GS1: a page saying why, or problem+json",
        "content": {
            "text/html": {"schema": {"type": "string"}},
            PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}},
        },
    },
}


Gtin = Annotated[str, Path(pattern=r"^[0-9]{8,14}$", description="GTIN-8, -12, -13 or -14")]
Serial = Annotated[str, Path(min_length=1, max_length=20, description="AI (21)")]
Sscc = Annotated[str, Path(pattern=r"^[0-9]{18}$", description="SSCC, AI (00)")]
LotNumber = Annotated[str, Path(min_length=1, max_length=20, description="AI (10)")]


def _wants_json(request: Request) -> bool:
    """True when the client ranks application/json above text/html (browsers do not)."""
    best: dict[str, float] = {}
    for part in request.headers.get("accept", "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best[media.lower()] = max(q, best.get(media.lower(), 0.0))
    json_q = best.get("application/json", 0.0)
    html_q = max(best.get("text/html", 0.0), best.get("*/*", 0.0) if not json_q else 0.0)
    return json_q > 0 and json_q >= html_q


async def _resolve(request: Request, path: str) -> Response:
    services = _services(request)
    query = request.url.query
    uri = services.settings.public_base_url.rstrip("/") + path + (f"?{query}" if query else "")
    verdict_page = _verdict_page(request)
    wants_json = verdict_page is None or _wants_json(request)
    try:
        result = _judge(request, uri, None)
    except Gs1Error as exc:
        if wants_json or verdict_page is None:
            raise
        # The page may look up a signed-in portal user (a chain call): off the event loop.
        page = await run_in_threadpool(verdict_page, request, services, code=uri, error=exc)
        page.headers["Vary"] = "Accept"
        return page
    if wants_json or verdict_page is None:
        return _signed(services, result)
    page = await run_in_threadpool(verdict_page, request, services, code=uri, result=result)
    page.headers["Vary"] = "Accept"
    return page


@router.get(
    "/01/{gtin}/21/{serial}",
    response_model=VerifyResult,
    responses=_RESOLVER_DOC,
    dependencies=[RateLimit],
)
async def resolve_unit(request: Request, gtin: Gtin, serial: Serial) -> Response:
    """GS1 Digital Link of a unit (dates as query, e.g. `?17=281231`)."""
    return await _resolve(request, f"/01/{quote(gtin)}/21/{quote(serial, safe='')}")


@router.get(
    "/01/{gtin}/10/{lot}/21/{serial}",
    response_model=VerifyResult,
    responses=_RESOLVER_DOC,
    dependencies=[RateLimit],
)
async def resolve_lot_unit(
    request: Request, gtin: Gtin, lot: LotNumber, serial: Serial
) -> Response:
    """GS1 Digital Link of a unit with its lot (dates as query, e.g. `?17=281231`)."""
    path = f"/01/{quote(gtin)}/10/{quote(lot, safe='')}/21/{quote(serial, safe='')}"
    return await _resolve(request, path)


@router.get(
    "/01/{gtin}/10/{lot}",
    response_model=VerifyResult,
    responses=_RESOLVER_DOC,
    dependencies=[RateLimit],
)
async def resolve_lot(request: Request, gtin: Gtin, lot: LotNumber) -> Response:
    """GS1 Digital Link of a lot (no serial; expiry as query, e.g. `?17=281231`): whether the
    lot is registered, its expiry and recall; it cannot prove one box unique."""
    return await _resolve(request, f"/01/{quote(gtin)}/10/{quote(lot, safe='')}")


@router.get(
    "/01/{rest:path}",
    response_model=VerifyResult,
    responses=_RESOLVER_DOC,
    dependencies=[RateLimit],
    include_in_schema=False,
)
async def resolve_encoded(request: Request, rest: str) -> Response:
    """Any other `/01/...` path, read as sent: a serial or lot holding '/' arrives encoded
    as `%2F`, which the server decodes before routing, so the routes above cannot match
    it; the raw path keeps it. A path that is no valid Digital Link is a 400 naming why."""
    raw = request.scope.get("raw_path")
    path = raw.decode("ascii", "replace") if isinstance(raw, bytes) else f"/01/{quote(rest)}"
    return await _resolve(request, path)


@router.get(
    "/00/{sscc}",
    response_model=VerifyResult,
    responses=_RESOLVER_DOC,
    dependencies=[RateLimit],
)
async def resolve_container(request: Request, sscc: Sscc) -> Response:
    """GS1 Digital Link of a logistic unit (case or pallet label)."""
    return await _resolve(request, f"/00/{quote(sscc)}")
