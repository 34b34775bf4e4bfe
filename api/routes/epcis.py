"""Routes: EPCIS 2.0 — `GET /v1/epcis/events` (a subset of the EPCIS query, answered with an
EPCISQueryDocument valid against GS1's JSON schema) and `POST /v1/epcis/capture` (an
EPCISDocument from a partner's ERP applied as signed ledger operations, idempotently, by a
capture job: 202 and `GET /v1/epcis/capture/{captureID}`, `GET /v1/epcis/capture` lists the
member's jobs; `?sync=true` answers with the outcome instead).

Capture signs as the signed-in partner with its custodial key (`api.chain`); a partner
without one gets `signature_required`, before a byte of the document is read. The
document is then read within `api.epcis.document`'s bounds and applied all or nothing
(`api.epcis.capture`). The regulator sees every event; a partner queries by EPC, for items
it holds or has held; an EPC that is no GS1 code is a 400 with its GS1 reason.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from medledger.api.epcis.capture import CapturedEvent, capture_document, prepare_capture
from medledger.api.epcis.document import MAX_BYTES, MAX_EVENTS, parse_document, read_body
from medledger.api.epcis.export import EventQuery, query_document, query_events
from medledger.api.epcis.identifiers import parse_epc, parse_epc_class
from medledger.api.epcis.jobs import capture_jobs, job_view, start_job
from medledger.api.epcis.lot_export import query_lot_events
from medledger.api.epcis.store import capture_store
from medledger.domain.api_examples import CAPTURE_JOB_EXAMPLE, example
from medledger.domain.chain import custodial_ledger
from medledger.domain.errors import Forbidden, NotFound, Unprocessable
from medledger.domain.master_data import current_record
from medledger.domain.record_notes import shipment_note
from medledger.domain.trace import ensure_item_visible
from medledger.indexer.queries.epcis import lot_visible
from medledger.sdk.gs1 import item_id, lot_key
from medledger.sdk.ledger import Ledger
from medledger.web.deps import ConnDep, ServicesDep
from medledger.web.members import CurrentMember
from medledger.web.oversight import TraceScopeDep

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


MAX_VALUES = 50
MAX_VALUE_LENGTH = 300
# RFC 3339 date-time, as the EPCIS query's GE_/LT_eventTime (a bare number is not one).
DATE_TIME = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)
LIST_HELP = "; several values match any of them: repeat the parameter or separate values with `|`"


def _any_of(alias: str, what: str) -> Any:
    return Query(alias=alias, max_length=MAX_VALUES, description=what + LIST_HELP)


def _time(alias: str) -> Any:
    return Query(alias=alias, pattern=DATE_TIME, description="RFC 3339 date-time")


def _values(name: str, given: list[str] | None) -> list[str] | None:
    """A list-valued query parameter: repeated, `|`-separated, or both."""
    if not given:
        return None
    values = [v for raw in given for v in raw.split("|") if v]
    if not values:
        raise Unprocessable("empty_value", f"{name} names no value")
    if any(len(v) > MAX_VALUE_LENGTH for v in values):
        raise Unprocessable(
            "value_too_long", f"a value of {name} is longer than {MAX_VALUE_LENGTH} characters"
        )
    if len(values) > MAX_VALUES:
        raise Unprocessable(
            "too_many_values",
            f"{name} has {len(values)} values; at most {MAX_VALUES} per query",
            max_values=MAX_VALUES,
        )
    return values


def _vocab(name: str, given: list[str] | None) -> frozenset[str] | None:
    """CBV values given bare (`shipping`) or as URIs (`https://ref.gs1.org/cbv/BizStep-shipping`)."""
    values = _values(name, given)
    if values is None:
        return None
    return frozenset(v.rsplit("/", 1)[-1].split("-", 1)[-1] for v in values)


def _unix(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise Unprocessable("bad_time", f"{name} {value!r} is not a date-time: {exc}") from exc
    return int(parsed.timestamp())


@router.get("/events", response_model=EpcisQueryDocument)
def events(
    request: Request,
    services: ServicesDep,
    conn: ConnDep,
    scope: TraceScopeDep,
    match_epc: Annotated[
        list[str] | None, _any_of("MATCH_epc", "Digital Link URIs or EPC URNs")
    ] = None,
    biz_step: Annotated[list[str] | None, _any_of("EQ_bizStep", "CBV bizSteps")] = None,
    disposition: Annotated[list[str] | None, _any_of("EQ_disposition", "CBV dispositions")] = None,
    ge_time: Annotated[str | None, _time("GE_eventTime")] = None,
    lt_time: Annotated[str | None, _time("LT_eventTime")] = None,
    match_epc_class: Annotated[
        list[str] | None,
        _any_of("MATCH_epcClass", "lots: lgtin EPC class URNs or Digital Link lot URIs"),
    ] = None,
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
    query = EventQuery(
        biz_steps=_vocab("EQ_bizStep", biz_step),
        dispositions=_vocab("EQ_disposition", disposition),
        ge_time=_unix("GE_eventTime", ge_time),
        lt_time=_unix("LT_eventTime", lt_time),
    )
    classes = _values("MATCH_epcClass", match_epc_class)
    if classes is not None:
        if match_epc:
            raise Unprocessable(
                "epc_and_epc_class", "query units (MATCH_epc) or lots (MATCH_epcClass), not both"
            )
        lot_indexes = []
        for value in classes:
            gtin, lot = parse_epc_class(value)
            index = lot_visible(conn, lot_key(gtin, lot), scope.member)
            if index is None:
                raise NotFound("unknown_lot", f"no lot {lot!r} of {gtin} among yours")
            lot_indexes.append(index)
        found_events, offset = query_lot_events(
            conn,
            lot_indexes,
            query,
            base=services.settings.public_base_url,
            chain_id=services.deployment.chain_id,
            master=lambda gtin: current_record(services, gtin),
            per_page=per_page,
            offset=int(next_page or 0),
        )
        return _page(request, found_events, offset)
    epcs = _values("MATCH_epc", match_epc)
    item_keys = None if epcs is None else tuple(item_id(parse_epc(e).path) for e in epcs)
    if scope.member is not None:
        if item_keys is None:
            raise Forbidden("epc_required", "partners query EPCIS events by EPC (MATCH_epc)")
        for key in item_keys:
            ensure_item_visible(conn, key, scope)
    query = replace(query, item_keys=item_keys)
    found, token = query_events(
        conn,
        query,
        base=services.settings.public_base_url,
        chain_id=services.deployment.chain_id,
        per_page=per_page,
        after=int(next_page or 0),
        note_of=lambda moved: shipment_note(services, moved, viewer=scope.member),
    )
    return _page(request, found, token)


def _page(request: Request, found: list[dict[str, Any]], token: int | None) -> JSONResponse:
    headers = {}
    if token is not None:
        url = request.url.include_query_params(nextPageToken=str(token))
        headers["Link"] = f'<{url}>; rel="next"'
    return JSONResponse(query_document(found, now=int(time.time())), headers=headers)


class CapturedOut(BaseModel):
    index: int
    event_hash: str
    status: Literal["captured", "duplicate", "already_recorded"]
    operations: list[str]
    tx_hashes: list[str]


class CaptureOut(BaseModel):
    captured: int
    duplicates: int
    events: list[CapturedOut]


def capture_ledger(services: ServicesDep, member: CurrentMember) -> Ledger:
    """The signed-in partner's custodial ledger handle, before the body is read."""
    if services.settings.regulator:
        raise NotFound("not_found", "EPCIS capture is a partner route")
    return custodial_ledger(services, member.address)


CaptureLedger = Annotated[Ledger, Depends(capture_ledger)]


async def epcis_document(request: Request, _: CaptureLedger) -> Any:
    """The posted document, read only once the partner may capture, within the bounds of
    `api.epcis.document`."""
    return await run_in_threadpool(parse_document, await read_body(request))


DOCUMENT_BODY = {
    "required": True,
    "description": "an EPCIS 2.0 EPCISDocument (JSON or JSON-LD), at most "
    f"{MAX_BYTES:,} bytes and {MAX_EVENTS} events",
    "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
}


class CaptureJobOut(BaseModel):
    """An EPCIS 2.0 capture job, with the per-event report (`api.epcis.jobs`)."""

    model_config = example(CAPTURE_JOB_EXAMPLE)

    captureID: str
    createdAt: str | None
    finishedAt: str | None
    running: bool
    success: bool
    captureErrorBehaviour: str
    errors: list[dict[str, Any]]
    state: Literal["running", "success", "failed", "interrupted"]
    eventCount: int
    events: list[dict[str, Any]]
    location: str


class CaptureJobsOut(BaseModel):
    model_config = example({"jobs": [CAPTURE_JOB_EXAMPLE]})

    jobs: list[CaptureJobOut]


def _jobs_base(request: Request) -> str:
    return str(request.url_for("capture_job_list"))


@router.post(
    "/capture",
    response_model=None,
    status_code=202,
    responses={
        202: {"model": CaptureJobOut, "description": "accepted: the capture job to poll"},
        200: {"model": CaptureOut, "description": "with `sync=true`: the outcome"},
    },
    openapi_extra={"requestBody": DOCUMENT_BODY},
)
def capture(
    request: Request,
    ledger: CaptureLedger,
    document: Annotated[Any, Depends(epcis_document)],
    services: ServicesDep,
    conn: ConnDep,
    sync: Annotated[
        bool, Query(description="apply before answering (200 with the outcome), not as a job")
    ] = False,
) -> JSONResponse:
    """Capture an EPCIS document's events as signed ledger operations, each at most once.
    The document is checked and every event rehearsed first (a refusal is a 4xx naming the
    event and rule; nothing is applied); it is then applied by a capture job: 202 with
    `Location: /v1/epcis/capture/{captureID}` to poll. `sync=true` applies it before
    answering (200 with the outcome)."""
    store = capture_store(services)
    if sync:
        done = capture_document(services, conn, ledger, store, document)
        return JSONResponse(_outcome(done).model_dump(), status_code=200)
    prepared = prepare_capture(services, conn, ledger, store, document)
    events = list(document["epcisBody"]["eventList"])
    job = start_job(services, ledger, prepared, events)
    view = job_view(job, base=_jobs_base(request))
    return JSONResponse(view, status_code=202, headers={"Location": view["location"]})


def _outcome(done: list[CapturedEvent]) -> CaptureOut:
    return CaptureOut(
        captured=sum(1 for e in done if e.status == "captured"),
        duplicates=sum(1 for e in done if e.status != "captured"),
        events=[
            CapturedOut(
                index=e.index,
                event_hash=e.event_hash,
                status=_STATUS[e.status],
                operations=e.operations,
                tx_hashes=e.tx_hashes,
            )
            for e in done
        ],
    )


_STATUS: dict[str, Literal["captured", "duplicate", "already_recorded"]] = {
    "captured": "captured",
    "duplicate": "duplicate",
    "recorded": "already_recorded",
}


@router.get("/capture", response_model=CaptureJobsOut, name="capture_job_list")
def capture_jobs_list(
    request: Request, services: ServicesDep, member: CurrentMember
) -> CaptureJobsOut:
    """Your capture jobs, newest first (at most 100)."""
    base = _jobs_base(request)
    jobs = capture_jobs(services).of_member(member.address)
    return CaptureJobsOut(jobs=[CaptureJobOut(**job_view(j, base=base)) for j in jobs])


@router.get("/capture/{capture_id}", response_model=CaptureJobOut)
def capture_job(
    request: Request,
    services: ServicesDep,
    member: CurrentMember,
    capture_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
) -> CaptureJobOut:
    """One of your capture jobs: running, success or failed with the per-event report, or
    interrupted (the API stopped meanwhile: post the document again)."""
    owner = None if member.is_regulator else member.address
    job = capture_jobs(services).get(capture_id, member=owner)
    if job is None:
        raise NotFound("unknown_capture", f"no capture job {capture_id} of yours")
    return CaptureJobOut(**job_view(job, base=_jobs_base(request)))
