"""Routes: EPCIS 2.0 named queries and query subscriptions (`domain.epcis_queries`) at
`/v1/epcis/queries`. A member (the regulator's too) sees only its own; a partner's query
names EPCs (MATCH_epc) of items it holds or has held, and every run — now, or a
subscription's delivery — answers through the member's EPCIS entitlement at that time.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from medledger.api.epcis.export import query_events
from medledger.api.routes.epcis_query_runner import named_document, parse_params, visible_keys
from medledger.domain import epcis_queries as queries
from medledger.domain.api_examples import example
from medledger.domain.errors import Forbidden, NotFound, Unprocessable
from medledger.domain.partner_schemas import PROBLEMS
from medledger.domain.subscriptions import secret_key_ready
from medledger.indexer.queries.events import last_seq
from medledger.web.deps import ConnDep, ServicesDep
from medledger.web.members import CurrentMember

__all__ = ["router"]

router = APIRouter(
    prefix="/v1/epcis/queries",
    tags=["epcis"],
    responses={k: v for k, v in PROBLEMS.items() if k != 202},
)

QueryName = Annotated[str, Path(max_length=64, pattern=queries.NAME_PATTERN)]
SubId = Annotated[str, Path(min_length=5, max_length=32, pattern=r"^sub_[0-9a-f]+$")]
MAX_PARAMETERS: Final = 5
_EPC = "https://id.example/01/09506000134352/21/SN0001"
_DOCUMENT_EXAMPLE: Final[dict[str, Any]] = {
    "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
    "type": "EPCISQueryDocument",
    "schemaVersion": "2.0",
    "creationDate": "2026-12-06T06:00:00.000Z",
    "epcisBody": {
        "queryResults": {
            "queryName": "hip-shipments",
            "resultsBody": {
                "eventList": [
                    {
                        "type": "ObjectEvent",
                        "eventTime": "2026-12-06T05:58:12.000Z",
                        "eventTimeZoneOffset": "+00:00",
                        "epcList": [_EPC],
                        "action": "OBSERVE",
                        "bizStep": "shipping",
                        "disposition": "in_transit",
                    }
                ]
            },
        }
    },
}


class NamedQueryIn(BaseModel):
    """A name (letters, digits, `_.-`) and EPCIS query parameters, each a list of values
    (MATCH_epc, EQ_bizStep, EQ_disposition, GE_eventTime, LT_eventTime)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "hip-shipments",
                    "params": {"MATCH_epc": [_EPC], "EQ_bizStep": ["shipping"]},
                }
            ]
        },
    )

    name: str = Field(max_length=64, pattern=queries.NAME_PATTERN)
    params: dict[str, list[str]] = Field(max_length=MAX_PARAMETERS)


class NamedQueriesOut(BaseModel):
    model_config = example({"queries": [queries.QUERY_EXAMPLE]})

    queries: list[queries.NamedQueryOut]


class QuerySubscriptionsOut(BaseModel):
    model_config = example({"subscriptions": [queries.SUBSCRIPTION_EXAMPLE]})

    subscriptions: list[queries.QuerySubscriptionOut]


def _check_visible(conn: Any, member: CurrentMember, params: dict[str, list[str]]) -> None:
    _, keys = parse_params(params)
    if member.is_regulator:
        return
    if keys is None:
        raise Forbidden("epc_required", "partners query EPCIS events by EPC (MATCH_epc)")
    seen = visible_keys(conn, keys, member.address)
    missing = [k for k in keys if k not in seen]
    if missing:
        raise NotFound("unknown_item", f"no item 0x{missing[0].hex()} on the ledger")


@router.post("", status_code=201, response_model=queries.NamedQueryOut)
def create(
    body: NamedQueryIn, member: CurrentMember, services: ServicesDep, conn: ConnDep
) -> queries.NamedQueryOut:
    """Save EPCIS query parameters under a name (checked as `GET /v1/epcis/events` does)."""
    _check_visible(conn, member, body.params)
    return queries.create_query(
        services,
        owner=member.address,
        created_by=f"{member.method}:{member.address}",
        name=body.name,
        params=body.params,
    )


@router.get("", response_model=NamedQueriesOut)
def listing(member: CurrentMember, services: ServicesDep) -> NamedQueriesOut:
    return NamedQueriesOut(queries=queries.list_queries(services, owner=member.address))


@router.get("/{query_name}", response_model=queries.NamedQueryOut)
def one(
    query_name: QueryName, member: CurrentMember, services: ServicesDep
) -> queries.NamedQueryOut:
    return queries.get_query(services, owner=member.address, name=query_name)


@router.delete("/{query_name}", status_code=204)
def remove(query_name: QueryName, member: CurrentMember, services: ServicesDep) -> Response:
    """Remove a query without subscriptions (409 `epcis_query_in_use` while it has some)."""
    queries.remove_query(services, owner=member.address, name=query_name)
    return Response(status_code=204)


@router.get(
    "/{query_name}/events",
    response_model=None,
    responses={200: {"content": {"application/json": {"example": _DOCUMENT_EXAMPLE}}}},
)
def run(
    request: Request,
    query_name: QueryName,
    member: CurrentMember,
    services: ServicesDep,
    conn: ConnDep,
    per_page: Annotated[int, Query(alias="perPage", ge=1)] = 30,
    next_page: Annotated[str | None, Query(alias="nextPageToken", pattern=r"^[0-9]{1,18}$")] = None,
) -> JSONResponse:
    """Run the query now: an EPCISQueryDocument, oldest first; the next page in `Link`."""
    cap = services.settings.max_page_size
    if per_page > cap:
        raise Unprocessable(
            "page_too_large",
            f"perPage {per_page} is above the largest page, {cap}",
            max_page_size=cap,
        )
    saved = queries.get_query(services, owner=member.address, name=query_name)
    query, keys = parse_params(saved.params)
    found: list[dict[str, Any]] = []
    token: int | None = None
    if keys is not None:
        keys = visible_keys(conn, keys, None if member.is_regulator else member.address)
    if member.is_regulator or keys:
        query = replace(query, item_keys=keys)
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
    document = named_document(found, query_name=query_name, now=int(time.time()))
    return JSONResponse(document, headers=headers)


@router.post(
    "/{query_name}/subscriptions", status_code=201, response_model=queries.QuerySubscriptionCreated
)
def subscribe(
    query_name: QueryName,
    body: queries.QuerySubscriptionIn,
    member: CurrentMember,
    services: ServicesDep,
    conn: ConnDep,
) -> queries.QuerySubscriptionCreated:
    """Subscribe `dest` to the query: `stream: true` (each new matching event, soon after
    it is indexed) or a `schedule` (the events recorded since the last run, at most once
    an hour by default). Deliveries are signed like webhooks with `signatureToken`."""
    secret_key_ready(services)
    return queries.subscribe(
        services,
        owner=member.address,
        created_by=f"{member.method}:{member.address}",
        name=query_name,
        body=body,
        cursor=last_seq(conn),
    )


@router.get("/{query_name}/subscriptions", response_model=QuerySubscriptionsOut)
def subscriptions(
    query_name: QueryName, member: CurrentMember, services: ServicesDep
) -> QuerySubscriptionsOut:
    found = queries.list_subscriptions(services, owner=member.address, name=query_name)
    return QuerySubscriptionsOut(subscriptions=found)


@router.get("/{query_name}/subscriptions/{sub_id}", response_model=queries.QuerySubscriptionOut)
def subscription(
    query_name: QueryName, sub_id: SubId, member: CurrentMember, services: ServicesDep
) -> queries.QuerySubscriptionOut:
    """Its status and cursor; deliveries and dead letters at `/v1/partner/subscriptions`."""
    return queries.subscription(services, owner=member.address, name=query_name, sub_id=sub_id)


@router.delete("/{query_name}/subscriptions/{sub_id}", status_code=204)
def unsubscribe(
    query_name: QueryName, sub_id: SubId, member: CurrentMember, services: ServicesDep
) -> Response:
    queries.remove_subscription(services, owner=member.address, name=query_name, sub_id=sub_id)
    return Response(status_code=204)
