"""Routes: EPCIS 2.0 — `GET /v1/epcis/events` (a subset of the EPCIS query, answered with an
EPCISQueryDocument valid against GS1's JSON schema) and `POST /v1/epcis/capture` (an
EPCISDocument from a partner's ERP applied as signed ledger operations, idempotently).

Capture signs as the signed-in partner with its custodial key (`api.chain`); a partner
without one gets `signature_required`. The regulator sees every event; a partner queries
by EPC, for items it holds or has held.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentMember, Member
from api.chain import custodial_ledger
from api.deps import ConnDep, ServicesDep
from api.epcis.capture import capture_document
from api.epcis.export import EventQuery, query_document, query_events
from api.epcis.identifiers import parse_epc
from api.epcis.store import capture_store
from api.errors import Forbidden, NotFound, Unprocessable
from api.oversight import TraceScopeDep
from api.routes.trace import ensure_item_visible
from api.services import Services
from sdk.gs1 import item_id
from sdk.ledger import Ledger

__all__ = ["router"]

router = APIRouter(prefix="/v1/epcis", tags=["epcis"])


class ResultsBody(BaseModel):
    eventList: list[dict[str, Any]]


class QueryResults(BaseModel):
    queryName: str
    resultsBody: ResultsBody


class QueryBody(BaseModel):
    queryResults: QueryResults


class EpcisQueryDocument(BaseModel):
    """An EPCIS 2.0 EPCISQueryDocument (JSON-LD); events as in the GS1 schema."""

    model_config = ConfigDict(populate_by_name=True)
    context: list[Any] = Field(alias="@context")
    type: Literal["EPCISQueryDocument"]
    schemaVersion: str
    creationDate: str
    epcisBody: QueryBody


def _vocab(value: str | None) -> str | None:
    """A CBV value given bare (`shipping`) or as its URI (`https://ref.gs1.org/cbv/BizStep-shipping`)."""
    if value is None:
        return None
    return value.rsplit("/", 1)[-1].split("-", 1)[-1]


def _unix(value: dt.datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp())


@router.get("/events", response_model=EpcisQueryDocument)
def events(
    request: Request,
    services: ServicesDep,
    conn: ConnDep,
    scope: TraceScopeDep,
    match_epc: Annotated[
        str | None,
        Query(alias="MATCH_epc", max_length=300, description="a Digital Link URI or EPC URN"),
    ] = None,
    biz_step: Annotated[str | None, Query(alias="EQ_bizStep", max_length=200)] = None,
    disposition: Annotated[str | None, Query(alias="EQ_disposition", max_length=200)] = None,
    ge_time: Annotated[dt.datetime | None, Query(alias="GE_eventTime")] = None,
    lt_time: Annotated[dt.datetime | None, Query(alias="LT_eventTime")] = None,
    per_page: Annotated[int, Query(alias="perPage", ge=1)] = 30,
    next_page: Annotated[str | None, Query(alias="nextPageToken", pattern=r"^[0-9]{1,18}$")] = None,
) -> JSONResponse:
    """EPCIS events of the ledger, oldest first; the next page is in the `Link` header."""
    cap = services.settings.max_page_size
    if per_page > cap:
        raise Unprocessable(
            "page_too_large",
            f"perPage {per_page} is above the largest page, {cap}",
            max_page_size=cap,
        )
    item_key = None if match_epc is None else item_id(parse_epc(match_epc).path)
    if scope.member is not None:
        if item_key is None:
            raise Forbidden("epc_required", "partners query EPCIS events by EPC (MATCH_epc)")
        ensure_item_visible(conn, item_key, scope)
    query = EventQuery(
        item_key=item_key,
        biz_step=_vocab(biz_step),
        disposition=_vocab(disposition),
        ge_time=_unix(ge_time),
        lt_time=_unix(lt_time),
    )
    found, token = query_events(
        conn,
        query,
        base=services.settings.public_base_url,
        chain_id=services.deployment.chain_id,
        per_page=per_page,
        after=int(next_page or 0),
    )
    headers = {}
    if token is not None:
        url = request.url.include_query_params(nextPageToken=str(token))
        headers["Link"] = f'<{url}>; rel="next"'
    return JSONResponse(query_document(found, now=int(time.time())), headers=headers)


class CapturedOut(BaseModel):
    index: int
    event_hash: str
    status: Literal["captured", "duplicate"]
    operations: list[str]
    tx_hashes: list[str]


class CaptureOut(BaseModel):
    captured: int
    duplicates: int
    events: list[CapturedOut]


def _capture_ledger(services: Services, member: Member) -> Ledger:
    if services.settings.regulator:
        raise NotFound("not_found", "EPCIS capture is a partner route")
    return custodial_ledger(services, member.address)


@router.post("/capture", response_model=CaptureOut)
def capture(
    document: Annotated[
        dict[str, Any],
        Body(description="an EPCIS 2.0 EPCISDocument (JSON or JSON-LD)"),
    ],
    services: ServicesDep,
    conn: ConnDep,
    member: CurrentMember,
) -> CaptureOut:
    """Apply an EPCIS document's events as signed ledger operations, each at most once."""
    ledger = _capture_ledger(services, member)
    done = capture_document(services, conn, ledger, capture_store(services), document)
    return CaptureOut(
        captured=sum(1 for e in done if e.status == "captured"),
        duplicates=sum(1 for e in done if e.status == "duplicate"),
        events=[
            CapturedOut(
                index=e.index,
                event_hash=e.event_hash,
                status="captured" if e.status == "captured" else "duplicate",
                operations=e.operations,
                tx_hashes=e.tx_hashes,
            )
            for e in done
        ],
    )
