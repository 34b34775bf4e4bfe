"""The event stream (issue #17): what members are told of, in order, with the read API's
entitlement (a member its own audience's events, the regulator every event), and the one
wire shape (`event_json`) webhooks, the AMQP binding and the portal use.

Events are written by the read model (`indexer.outbox`) in the transaction of what they
report; this module only reads them. `EventKind` is the read model's kind enum: open, so
issue #18 adds `alert.excursion` there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from medledger.domain.auth import Member
from medledger.domain.errors import ApiError
from medledger.domain.services import Services
from medledger.indexer.outbox import LedgerEventKind
from medledger.indexer.queries.events import EventRow, events_after, organisation_id
from medledger.sdk.dates import consortium_zone

__all__ = [
    "MAX_EVENTS",
    "EventFilter",
    "EventKind",
    "LedgerEvent",
    "event_json",
    "event_names",
    "read_events",
    "visible_events",
]

EventKind = LedgerEventKind
MAX_EVENTS: Final = 500
_ADDRESS_KEYS: Final = ("sender", "receiver", "initiator", "by", "member", "holder")


def _address(value: str) -> str:
    from eth_utils import is_hex_address, to_checksum_address

    if not is_hex_address(value):
        raise ValueError(f"{value!r} is not an address (0x and 40 hex digits)")
    return str(to_checksum_address(value))


class EventFilter(BaseModel):
    """Which events a reader wants: kinds (empty: all), a product, a lot, a counterparty
    (of a shipment: its other party as the reader sees it; of a recall: its
    initiator) and a location GLN; bounded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kinds: tuple[EventKind, ...] = Field(default=(), max_length=len(EventKind))
    gtin: str | None = Field(default=None, pattern=r"^\d{14}$")
    lot: str | None = Field(default=None, min_length=1, max_length=20)
    counterparty: Annotated[str, AfterValidator(_address)] | None = None
    location: str | None = Field(default=None, pattern=r"^\d{13}$")


@dataclass(frozen=True, slots=True)
class LedgerEvent(EventRow):
    """An event as the read model holds it, with the chain it happened on (its id's
    prefix)."""

    chain_id: int


def _event(row: EventRow, chain_id: int) -> LedgerEvent:
    return LedgerEvent(**{f.name: getattr(row, f.name) for f in fields(row)}, chain_id=chain_id)


def read_events(
    conn: Connection,
    *,
    chain_id: int,
    member: Member,
    after: int,
    filter: EventFilter,
    limit: int,
) -> list[LedgerEvent]:
    """`visible_events` on an open connection (the delivery worker's)."""
    if not 1 <= limit <= MAX_EVENTS:
        raise ApiError("invalid_limit", f"limit must be 1 to {MAX_EVENTS}, not {limit}")
    if after < 0:
        raise ApiError("invalid_cursor", f"after must be 0 or more, not {after}")
    org: int | None = None
    if not member.is_regulator:
        org = organisation_id(conn, member.address)
        if org is None:
            return []
    rows = events_after(
        conn,
        after,
        organisation_id=org,
        kinds=[str(k) for k in filter.kinds],
        gtin=filter.gtin,
        lot=filter.lot,
        counterparty=filter.counterparty,
        location=filter.location,
        limit=limit,
    )
    return [_event(r, chain_id) for r in rows]


def visible_events(
    services: Services, member: Member, after: int, filter: EventFilter, limit: int = 100
) -> list[LedgerEvent]:
    """The events after seq `after` the member is entitled to (the regulator: all)."""
    with services.engine.connect() as conn:
        return read_events(
            conn,
            chain_id=services.deployment.chain_id,
            member=member,
            after=after,
            filter=filter,
            limit=limit,
        )


def event_names(conn: Connection, events: Iterable[LedgerEvent]) -> dict[str, str]:
    """The organisation names of every address the events name."""
    from medledger.indexer.queries.organisation_names import organisation_name

    addresses = {e.counterparty for e in events if e.counterparty}
    for e in events:
        addresses |= {str(e.data[k]) for k in _ADDRESS_KEYS if isinstance(e.data.get(k), str)}
    names = {a: organisation_name(conn, a) for a in sorted(addresses)}
    return {a: n for a, n in names.items() if n is not None}


def _party(address: str | None, names: dict[str, str]) -> dict[str, Any] | None:
    return None if address is None else {"address": address, "name": names.get(address, "")}


def event_json(event: LedgerEvent, names: dict[str, str] | None = None) -> dict[str, Any]:
    """The wire shape of an event (webhooks, AMQP, portal): a stable id, ISO 8601 time in
    the consortium's zone, names next to addresses, units labelled."""
    names = names or {}
    data = dict(event.data)
    for key in _ADDRESS_KEYS:
        value = data.get(key)
        if isinstance(value, str):
            data[key] = _party(value, names)
    subject: dict[str, Any] = {"gtin": event.gtin, "lot": event.lot}
    if "serial" in data:
        subject["serial"] = data.pop("serial")
    if event.shipment_id is not None:
        subject["shipment_id"] = event.shipment_id
    subject["counterparty"] = _party(event.counterparty, names)
    subject["location"] = None if event.location is None else {"gln": event.location}
    occurred = dt.datetime.fromtimestamp(event.occurred_at, consortium_zone())
    return {
        "id": f"{event.chain_id}:{event.seq}",
        "seq": event.seq,
        "type": event.kind,
        "occurred_at": occurred.isoformat(),
        "block": event.block_number,
        "tx": None if event.tx_hash is None else "0x" + event.tx_hash.hex(),
        "subject": subject,
        "data": data,
    }
