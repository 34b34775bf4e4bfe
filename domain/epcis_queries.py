"""EPCIS 2.0 named queries and query subscriptions (issue #17): a member saves EPCIS query
parameters under a name, runs them, and subscribes a webhook to them — streamed (each
run covers the ledger events recorded since the last) or on a schedule
(`domain.epcis_schedule`). A subscription is an `api_subscriptions` row of kind
"epcis.query", so the delivery worker leases, signs, retries and dead-letters it as any
webhook, and it shows on the same status pages.

The parameters are checked by the API's EPCIS query parser before they reach
`create_query`; every use case takes the owner, and another member's query or
subscription is 404, as one that does not exist.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import time
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from medledger.domain.api_examples import example
from medledger.domain.epcis_schedule import QuerySchedule, check_interval
from medledger.domain.errors import Conflict, NotFound, Unprocessable
from medledger.domain.services import Services
from medledger.domain.store import api_store
from medledger.domain.subscriptions import MAX_SUBSCRIPTIONS, check_url, seal_secret
from medledger.indexer.store import epcis_queries as store
from medledger.indexer.store import subscriptions as rows
from medledger.indexer.store.epcis_queries import NamedQueryRow, QuerySubscriptionRow
from medledger.indexer.store.subscriptions import SubscriptionRow

__all__ = [
    "KIND",
    "MAX_QUERIES",
    "NAME_PATTERN",
    "QUERY_EXAMPLE",
    "SUBSCRIPTION_EXAMPLE",
    "NamedQueryOut",
    "QuerySubscriptionCreated",
    "QuerySubscriptionIn",
    "QuerySubscriptionOut",
    "create_query",
    "get_query",
    "list_queries",
    "list_subscriptions",
    "remove_query",
    "remove_subscription",
    "subscribe",
    "subscription",
]

KIND: Final = "epcis.query"
MAX_QUERIES: Final = 50
NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

_HOOK = "https://erp.example.com/epcis/hooks"


QUERY_EXAMPLE: Final[dict[str, Any]] = {
    "name": "hip-shipments",
    "params": {
        "EQ_bizStep": ["shipping"],
        "MATCH_epc": ["https://id.example/01/09506000134352/21/SN0001"],
    },
    "created_by": "api_key:0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2",
    "created_at": 1796515200,
}


class NamedQueryOut(BaseModel):
    model_config = example(QUERY_EXAMPLE)

    name: str
    params: dict[str, list[str]]
    created_by: str
    created_at: int


def _query_out(row: NamedQueryRow) -> NamedQueryOut:
    return NamedQueryOut(
        name=row.name, params=row.params, created_by=row.created_by, created_at=row.created_at
    )


def create_query(
    services: Services, *, owner: str, created_by: str, name: str, params: dict[str, list[str]]
) -> NamedQueryOut:
    row = NamedQueryRow(owner, name, params, created_by[:120], int(time.time()))
    added = store.add_query(api_store(services).engine, row, limit=MAX_QUERIES)
    if added == "limit":
        raise Conflict("epcis_query_limit", f"at most {MAX_QUERIES} named queries per member")
    if added == "exists":
        raise Conflict("epcis_query_exists", f"you already have a query named {name!r}")
    return _query_out(row)


def _own_query(services: Services, owner: str, name: str) -> NamedQueryRow:
    row = store.get_query(api_store(services).engine, owner, name)
    if row is None:
        raise NotFound("epcis_query_not_found", f"no query named {name!r}")
    return row


def get_query(services: Services, *, owner: str, name: str) -> NamedQueryOut:
    return _query_out(_own_query(services, owner, name))


def list_queries(services: Services, *, owner: str) -> list[NamedQueryOut]:
    return [_query_out(r) for r in store.list_queries(api_store(services).engine, owner)]


def remove_query(services: Services, *, owner: str, name: str) -> None:
    """Remove a query no subscription uses (409 while one does)."""
    _own_query(services, owner, name)
    engine = api_store(services).engine
    if store.query_in_use(engine, owner, name):
        raise Conflict("epcis_query_in_use", f"query {name!r} has subscriptions: remove them first")
    store.remove_query(engine, owner, name)


class QuerySubscriptionIn(BaseModel):
    """EPCIS 2.0 subscription: `dest` (the webhook URL), and `stream: true` or a
    `schedule`; `signatureToken` (optional, 32+ characters) is the HMAC key of the
    `MedLedger-Signature` header (one is made and shown once when absent)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"dest": _HOOK, "stream": True},
                {"dest": _HOOK, "schedule": {"minute": "0", "hour": "6"}, "reportIfEmpty": True},
            ]
        },
    )

    dest: str = Field(min_length=8, max_length=2048)
    signatureToken: str | None = Field(default=None, min_length=32, max_length=128)
    stream: bool = False
    schedule: QuerySchedule | None = None
    reportIfEmpty: bool = False


SUBSCRIPTION_EXAMPLE: Final[dict[str, Any]] = {
    "subscriptionID": "sub_5f1c0e2a9b7d4c3e8a6f0b1d",
    "queryName": "hip-shipments",
    "dest": _HOOK,
    "stream": False,
    "schedule": {"minute": "0", "hour": "6"},
    "reportIfEmpty": True,
    "status": "active",
    "cursor": 1042,
    "nextRunAt": "2026-12-07T06:00:00Z",
    "createdAt": 1796515200,
}


class QuerySubscriptionOut(BaseModel):
    model_config = example(SUBSCRIPTION_EXAMPLE)

    subscriptionID: str
    queryName: str
    dest: str
    stream: bool
    schedule: dict[str, str] | None
    reportIfEmpty: bool
    status: str
    cursor: int
    nextRunAt: str | None
    createdAt: int


class QuerySubscriptionCreated(QuerySubscriptionOut):
    model_config = example({**SUBSCRIPTION_EXAMPLE, "signatureToken": "whsec_" + "3f" * 32})

    signatureToken: str  # shown once


def _iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub_out(sub: SubscriptionRow, state: QuerySubscriptionRow) -> QuerySubscriptionOut:
    return QuerySubscriptionOut(
        subscriptionID=sub.id,
        queryName=state.query_name,
        dest=sub.url,
        stream=state.stream,
        schedule=state.schedule,
        reportIfEmpty=state.report_if_empty,
        status=sub.status,
        cursor=sub.cursor,
        nextRunAt=None if state.stream else _iso(state.next_run_at),
        createdAt=sub.created_at,
    )


def subscribe(
    services: Services,
    *,
    owner: str,
    created_by: str,
    name: str,
    body: QuerySubscriptionIn,
    cursor: int,
) -> QuerySubscriptionCreated:
    """Subscribe `body.dest` to the query `name` for the events after seq `cursor`."""
    _own_query(services, owner, name)
    if body.stream == (body.schedule is not None):
        raise Unprocessable(
            "epcis_subscription_mode", "give either stream: true or a schedule, not both"
        )
    check_url(body.dest, allow_private_http=services.settings.webhook_allow_private_http)
    now = int(time.time())
    next_run = 0
    if body.schedule is not None:
        minimum = services.settings.epcis_schedule_min_seconds
        next_run = check_interval(body.schedule, now=now, minimum=minimum)
    sub_id = "sub_" + os.urandom(12).hex()
    token = body.signatureToken or "whsec_" + secrets.token_hex(32)
    nonce, sealed = seal_secret(services, sub_id, token)
    row = SubscriptionRow(
        sub_id,
        owner,
        created_by[:120],
        KIND,
        [],
        {"query": name},
        body.dest,
        nonce,
        sealed,
        "active",
        cursor,
        now,
        now,
    )
    schedule = None
    if body.schedule is not None:
        schedule = body.schedule.model_dump(exclude_none=True)
    state = QuerySubscriptionRow(
        sub_id, owner, name, body.stream, schedule, body.reportIfEmpty, next_run
    )
    engine = api_store(services).engine
    store.add_state(engine, state)  # before the row the worker picks up
    if not rows.add_subscription(engine, row, limit=MAX_SUBSCRIPTIONS):
        store.remove_state(engine, sub_id)
        raise Conflict(
            "subscription_limit", f"at most {MAX_SUBSCRIPTIONS} subscriptions per member"
        )
    return QuerySubscriptionCreated(**_sub_out(row, state).model_dump(), signatureToken=token)


def _own_subscription(
    services: Services, owner: str, name: str, sub_id: str
) -> tuple[SubscriptionRow, QuerySubscriptionRow]:
    engine = api_store(services).engine
    sub = rows.get_subscription(engine, sub_id, owner=owner)
    state = store.state_of(engine, sub_id)
    if sub is None or state is None or state.query_name != name or sub.kind != KIND:
        raise NotFound("subscription_not_found", f"no subscription {sub_id} of query {name!r}")
    return sub, state


def subscription(services: Services, *, owner: str, name: str, sub_id: str) -> QuerySubscriptionOut:
    return _sub_out(*_own_subscription(services, owner, name, sub_id))


def list_subscriptions(services: Services, *, owner: str, name: str) -> list[QuerySubscriptionOut]:
    _own_query(services, owner, name)
    engine = api_store(services).engine
    found = []
    for state in store.states_of_query(engine, owner, name):
        sub = rows.get_subscription(engine, state.subscription_id, owner=owner)
        if sub is not None:
            found.append(_sub_out(sub, state))
    return found


def remove_subscription(services: Services, *, owner: str, name: str, sub_id: str) -> None:
    _own_subscription(services, owner, name, sub_id)
    engine = api_store(services).engine
    rows.remove_subscription(engine, sub_id)  # and its EPCIS query state
