"""Public verification routes (no login): `/v1/verify`, the GS1 Digital Link resolver paths
`/01/{gtin}[/10/{lot}]/21/{serial}` and `/00/{sscc}`, and the response-signing key at
`/.well-known/medledger-verify-key`.

Every verdict is the canonical JSON of a `VerifyResult`, signed with the platform's Ed25519
key (api.signing); every request is charged to its client's token bucket (api.ratelimit).
The resolver serves the human page (api/templates/verify.html) to browsers and the same
signed JSON to `Accept: application/json`.
"""

from __future__ import annotations

import pathlib
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field
from web3.exceptions import Web3Exception

from api.deps import ConnDep, ServicesDep
from api.errors import PROBLEM_JSON, RateLimited
from api.ratelimit import API_KEY_HEADER, TokenBuckets, client_id
from api.services import Services
from api.signing import KEY_ID_HEADER, SIGNATURE_HEADER, canonical_json, public_jwk, signed_headers
from api.verification import ChainRef, Location, VerifyPolicy, VerifyResult, ledger_now, verify
from sdk.errors import Gs1Error
from sdk.gs1 import Udi, parse_code

__all__ = ["router"]

router = APIRouter(tags=["verify"])

TEMPLATES = pathlib.Path(__file__).resolve().parent.parent / "templates"
MAX_CODE = 512


async def rate_limit(request: Request, services: ServicesDep) -> None:
    """Charge one request to the client's bucket; 429 with Retry-After when it is empty."""
    buckets = services.extras.get("verify_buckets")
    if not isinstance(buckets, TokenBuckets):
        buckets = services.extras.setdefault(
            "verify_buckets",
            TokenBuckets(rate_per_minute=services.settings.verify_rate_per_minute),
        )
    wait = buckets.take(client_id(request))
    if wait:
        raise RateLimited(
            f"verification budget of {services.settings.verify_rate_per_minute} requests per "
            f"minute used up; retry in {wait} s",
            retry_after=wait,
        )


RateLimit = Depends(rate_limit)


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


def _scanner(request: Request) -> str | None:
    # Only an API key's hash is kept with a scan; IP addresses are personal data.
    return client_id(request) if request.headers.get(API_KEY_HEADER) else None


def _parse(code: str) -> Udi:
    try:
        udi = parse_code(code)
    except ValueError as exc:  # biip's symbology reader lets some junk through (e.g. "]Yä")
        raise Gs1Error("malformed", f"cannot read {code[:64]!r}: {exc}") from exc
    if udi.gtin is not None and udi.serial is None:
        raise Gs1Error(
            "missing_serial",
            f"GTIN {udi.gtin} has no serial (AI 21); only a serialised unit can be verified",
        )
    return udi


def _judge(
    services: Services, conn: ConnDep, request: Request, code: str, location: Location | None
) -> VerifyResult:
    udi = _parse(code)
    s = services.settings
    policy = VerifyPolicy(s.verify_window_seconds, s.verify_distant_km, s.verify_grace_seconds)
    result = verify(
        conn,
        udi,
        now=ledger_now(conn),
        policy=policy,
        location=location.coarse() if location is not None else "",
        scanner=_scanner(request),
    )
    conn.commit()
    for ref in result.chain:
        if ref.event == "recall_opened" and ref.tx_hash is None:
            _fill_recall_ref(services, ref, udi)
    return result


def _fill_recall_ref(services: Services, ref: ChainRef, udi: Udi) -> None:
    """The indexer keeps a recall's block only; ask the chain for its log there."""
    lot_key = udi.lot_key
    try:
        # No topic filter: eth-tester's topic matching is unreliable after a snapshot revert,
        # and one block holds few Devices logs.
        logs = services.w3.eth.get_logs(
            {
                "address": services.w3.to_checksum_address(services.deployment.devices),
                "fromBlock": ref.block,
                "toBlock": ref.block,
            }
        )
    except (Web3Exception, OSError):
        return
    for log in logs:
        event = services.codec.decode_log(log)
        if event is None or event.name != "RecallOpened":
            continue
        if lot_key is None or bytes(event.args["lotKey"]) == lot_key:
            ref.tx_hash = "0x" + bytes(log["transactionHash"]).hex()
            ref.log_index = int(log["logIndex"])
            return


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


@router.get("/v1/verify", response_model=VerifyResult, dependencies=[RateLimit])
def verify_get(
    request: Request,
    services: ServicesDep,
    conn: ConnDep,
    query: Annotated[VerifyQuery, Query()],
) -> Response:
    """Verify a scanned code; the answer is signed (see /.well-known/medledger-verify-key)."""
    location = Location.model_validate(query.model_dump(exclude={"code"}))
    return _signed(services, _judge(services, conn, request, query.code, location))


@router.post("/v1/verify", response_model=VerifyResult, dependencies=[RateLimit])
def verify_post(
    request: Request, services: ServicesDep, conn: ConnDep, body: VerifyRequest
) -> Response:
    """Verify a scanned code, with an optional coarse location of the scan."""
    return _signed(services, _judge(services, conn, request, body.code, body.location))


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


def _environment(services: Services) -> Environment:
    env = services.extras.get("verify_templates")
    if not isinstance(env, Environment):
        env = Environment(
            loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"])
        )
        services.extras["verify_templates"] = env
    return env


def _resolve(request: Request, services: Services, conn: ConnDep, path: str) -> Response:
    query = request.url.query
    uri = services.settings.public_base_url.rstrip("/") + path + (f"?{query}" if query else "")
    wants_json = _wants_json(request)
    try:
        result = _judge(services, conn, request, uri, None)
    except Gs1Error as exc:
        if wants_json:
            raise
        page = _environment(services).get_template("invalid.html").render(error=exc, uri=uri)
        return HTMLResponse(page, status_code=400, headers={"Vary": "Accept"})
    if wants_json:
        return _signed(services, result)
    page = _environment(services).get_template("verify.html").render(result=result, uri=uri)
    return HTMLResponse(page, headers={"Vary": "Accept"})


@router.get(
    "/01/{gtin}/21/{serial}",
    response_model=VerifyResult,
    responses=_RESOLVER_DOC,
    dependencies=[RateLimit],
)
def resolve_unit(
    request: Request, services: ServicesDep, conn: ConnDep, gtin: Gtin, serial: Serial
) -> Response:
    """GS1 Digital Link of a unit (dates as query, e.g. `?17=281231`)."""
    return _resolve(request, services, conn, f"/01/{quote(gtin)}/21/{quote(serial, safe='')}")


@router.get(
    "/01/{gtin}/10/{lot}/21/{serial}",
    response_model=VerifyResult,
    responses=_RESOLVER_DOC,
    dependencies=[RateLimit],
)
def resolve_lot_unit(
    request: Request,
    services: ServicesDep,
    conn: ConnDep,
    gtin: Gtin,
    lot: LotNumber,
    serial: Serial,
) -> Response:
    """GS1 Digital Link of a unit with its lot (dates as query, e.g. `?17=281231`)."""
    path = f"/01/{quote(gtin)}/10/{quote(lot, safe='')}/21/{quote(serial, safe='')}"
    return _resolve(request, services, conn, path)


@router.get(
    "/00/{sscc}",
    response_model=VerifyResult,
    responses=_RESOLVER_DOC,
    dependencies=[RateLimit],
)
def resolve_container(
    request: Request, services: ServicesDep, conn: ConnDep, sscc: Sscc
) -> Response:
    """GS1 Digital Link of a logistic unit (case or pallet label)."""
    return _resolve(request, services, conn, f"/00/{quote(sscc)}")
