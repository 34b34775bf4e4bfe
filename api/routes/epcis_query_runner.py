"""The EPCIS query behind named queries and their subscriptions (`domain.epcis_queries`):
`parse_params` checks saved parameters with the `GET /v1/epcis/events` parser, and
`EpcisQueryRunner` is the `domain.delivery.epcis_query.QueryRunner` the delivery worker
is handed: the query's EPCIS events among the ledger events a subscription has not seen,
through the owner's entitlement at the time of the run.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Final

from sqlalchemy import Connection

from medledger.api.epcis.export import EventQuery, query_document, query_events
from medledger.api.epcis.identifiers import parse_epc
from medledger.api.routes.epcis import DATE_TIME, _unix, _values, _vocab
from medledger.domain.auth import Member
from medledger.domain.errors import NotFound, Unprocessable
from medledger.domain.events import MAX_EVENTS, EventFilter, read_events
from medledger.domain.services import Services
from medledger.domain.trace import TraceScope, ensure_item_visible
from medledger.indexer.queries.epcis import event_reference
from medledger.sdk.gs1 import item_id

__all__ = [
    "PARAMETERS",
    "EpcisQueryRunner",
    "ParsedQuery",
    "named_document",
    "parse_params",
    "visible_keys",
]

# The EPCIS query parameters a named query may hold (those `GET /v1/epcis/events` serves
# for EPCs; lot queries by MATCH_epcClass are not offered as subscriptions yet).
PARAMETERS: Final = ("MATCH_epc", "EQ_bizStep", "EQ_disposition", "GE_eventTime", "LT_eventTime")
PAGE: Final = 200
_DATE_TIME: Final = re.compile(DATE_TIME)

ParsedQuery = tuple[EventQuery, tuple[bytes, ...] | None]


def _time(params: dict[str, list[str]], name: str) -> int | None:
    given = params.get(name)
    if not given:
        return None
    if len(given) != 1 or not _DATE_TIME.match(given[0]):
        raise Unprocessable("bad_time", f"{name} takes one RFC 3339 date-time, not {given!r}")
    return _unix(name, given[0])


def parse_params(params: dict[str, list[str]]) -> ParsedQuery:
    """The query and its EPCs' item keys (None: any item); a 422 names a bad parameter."""
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise Unprocessable(
            "epcis_query_parameter",
            f"{unknown[0]!r} is not a parameter of named queries ({', '.join(PARAMETERS)})",
        )
    query = EventQuery(
        biz_steps=_vocab("EQ_bizStep", params.get("EQ_bizStep")),
        dispositions=_vocab("EQ_disposition", params.get("EQ_disposition")),
        ge_time=_time(params, "GE_eventTime"),
        lt_time=_time(params, "LT_eventTime"),
    )
    epcs = _values("MATCH_epc", params.get("MATCH_epc"))
    keys = None if epcs is None else tuple(item_id(parse_epc(e).path) for e in epcs)
    return query, keys


def visible_keys(
    conn: Connection, keys: tuple[bytes, ...], member: str | None
) -> tuple[bytes, ...]:
    """The items among `keys` the member holds or has held (the regulator, None: all)."""
    scope = TraceScope(member)
    seen = []
    for key in keys:
        try:
            ensure_item_visible(conn, key, scope)
        except NotFound:
            continue
        seen.append(key)
    return tuple(seen)


class EpcisQueryRunner:
    def __init__(self, services: Services) -> None:
        self.services = services

    def _refs(
        self, conn: Connection, member: Member, after: int, upto: int
    ) -> set[tuple[int, int]]:
        """(block, log index) of the chain events in (after, upto] `member` may see."""
        refs: set[tuple[int, int]] = set()
        while after < upto:
            found = read_events(
                conn,
                chain_id=self.services.deployment.chain_id,
                member=member,
                after=after,
                filter=EventFilter(),
                limit=MAX_EVENTS,
            )
            for event in found:
                if event.seq <= upto and event.block_number is not None:
                    if event.log_index is not None:
                        refs.add((event.block_number, event.log_index))
            if len(found) < MAX_EVENTS:
                break
            after = found[-1].seq
        return refs

    def events(
        self, conn: Connection, member: Member, params: dict[str, list[str]], after: int, upto: int
    ) -> list[dict[str, Any]]:
        refs = self._refs(conn, member, after, upto)
        if not refs:
            return []
        query, keys = parse_params(params)
        holder = None if member.is_regulator else member.address
        if keys is not None:
            keys = visible_keys(conn, keys, holder)
            if not keys:
                return []
        elif holder is not None:
            return []  # partners query by EPC (as GET /v1/epcis/events)
        first = min(refs)
        since = event_reference(conn, *first).timestamp
        query = replace(query, item_keys=keys, ge_time=max(query.ge_time or since, since))
        last_block = max(b for b, _ in refs)
        found: list[dict[str, Any]] = []
        token: int | None = 0
        while token is not None:
            page, token = query_events(
                conn,
                query,
                base=self.services.settings.public_base_url,
                chain_id=self.services.deployment.chain_id,
                per_page=PAGE,
                after=token,
            )
            found += [
                e for e in page if (e["medledger:blockNumber"], e["medledger:logIndex"]) in refs
            ]
            if page and page[-1]["medledger:blockNumber"] > last_block:
                break
        return found

    def document(
        self, events: list[dict[str, Any]], *, subscription_id: str, query_name: str, now: int
    ) -> dict[str, Any]:
        return named_document(
            events, query_name=query_name, now=now, subscription_id=subscription_id
        )


def named_document(
    events: list[dict[str, Any]], *, query_name: str, now: int, subscription_id: str | None = None
) -> dict[str, Any]:
    """An EPCISQueryDocument answering the named query (for a subscription: its id)."""
    document = query_document(events, now=now)
    results = document["epcisBody"]["queryResults"]
    results["queryName"] = query_name
    if subscription_id is not None:
        results["subscriptionID"] = subscription_id
    return document
