"""Ledger events as EPCIS 2.0: one contract event (block, log index) becomes one
ObjectEvent or AggregationEvent with a CBV bizStep and disposition, its EPCs as GS1
Digital Link URIs, and its chain reference in `medledger:` extension fields. An event
that would leave units `active` while their lot is under an open recall says `recalled`.

`query_events` answers the subset of the EPCIS query the API serves — any of several EPCs,
bizSteps or dispositions, an event-time range — paginated by an opaque token (an
`item_events` row id).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from medledger.api.epcis import enrich
from medledger.api.epcis.identifiers import container_uri, unit_uri
from medledger.indexer.items import EventKind
from medledger.indexer.queries.epcis import (
    EventItem,
    EventKey,
    event_items,
    event_keys,
    event_reference,
    first_event_at,
    item_ids,
    lot_dates,
    lots_recalled_at,
)
from medledger.indexer.queries.shipments import ShipmentRow, shipment
from medledger.sdk.model import ItemStatus

__all__ = [
    "BIZ_STEPS",
    "CONTEXT",
    "DISPOSITIONS",
    "EVENT_ID_NAMESPACE",
    "EVENT_SHAPES",
    "EventQuery",
    "NoteOf",
    "query_document",
    "iso_time",
    "query_events",
]

CONTEXT: list[Any] = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"medledger": "https://medledger.example/epcis/"},
]
# kind -> (event type, action, bizStep, disposition)
EVENT_SHAPES: dict[EventKind, tuple[str, str, str, str]] = {
    EventKind.COMMISSIONED: ("ObjectEvent", "ADD", "commissioning", "active"),
    EventKind.CONTAINER_CREATED: ("ObjectEvent", "ADD", "commissioning", "active"),
    EventKind.PACKED: ("AggregationEvent", "ADD", "packing", "active"),
    EventKind.UNPACKED: ("AggregationEvent", "DELETE", "unpacking", "active"),
    EventKind.SHIPPED: ("ObjectEvent", "OBSERVE", "shipping", "in_transit"),
    EventKind.RECEIVED: ("ObjectEvent", "OBSERVE", "receiving", "active"),
    EventKind.REJECTED: ("ObjectEvent", "OBSERVE", "inspecting", "returned"),
    EventKind.CANCELLED: ("ObjectEvent", "OBSERVE", "void_shipping", "active"),
    EventKind.DISPENSED: ("ObjectEvent", "OBSERVE", "dispensing", "dispensed"),
    EventKind.QUARANTINED: ("ObjectEvent", "OBSERVE", "holding", "non_sellable_other"),
    EventKind.RELEASED: ("ObjectEvent", "OBSERVE", "inspecting", "active"),
    EventKind.DESTROYED: ("ObjectEvent", "DELETE", "destroying", "destroyed"),
}
BIZ_STEPS = sorted({m[2] for m in EVENT_SHAPES.values()})
DISPOSITIONS = sorted({m[3] for m in EVENT_SHAPES.values()} | {"non_sellable_other", "recalled"})
CHUNK = 2000
# The delivery note of a shipment, if the reader is entitled to it (`record_notes.shipment_note`)
NoteOf = Callable[[ShipmentRow], dict[str, Any] | None]
EVENT_ID_NAMESPACE = uuid.UUID("1b7ac3a6-3f0e-4a52-9d44-5b1c1f0e7d21")


@dataclass(frozen=True, slots=True)
class EventQuery:
    """What to match; each list is an OR of its values (None: anything)."""

    item_keys: tuple[bytes, ...] | None = None
    biz_steps: frozenset[str] | None = None
    dispositions: frozenset[str] | None = None
    ge_time: int | None = None
    lt_time: int | None = None

    def kinds(self) -> list[EventKind]:
        return [k for k, m in EVENT_SHAPES.items() if self._may_match(k, m[2], m[3])]

    def _may_match(self, kind: EventKind, step: str, disposition: str) -> bool:
        if self.biz_steps is not None and step not in self.biz_steps:
            return False
        if self.dispositions is None:
            return True
        # A receipt may quarantine (non_sellable_other); an `active` move of a recalled lot
        # is exported as `recalled`.
        possible = {disposition}
        if kind is EventKind.RECEIVED:
            possible.add("non_sellable_other")
        if disposition == "active":
            possible.add("recalled")
        return not possible.isdisjoint(self.dispositions)

    def wants(self, event: dict[str, Any]) -> bool:
        """The exported event's own disposition, checked after it is built."""
        return self.dispositions is None or event["disposition"] in self.dispositions


def iso_time(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _keys(conn: Connection, q: EventQuery, after: int, want: int) -> list[EventKey]:
    """Up to `want` events (block, log index, kind) after row id `after`, in order.
    One contract event may be two EPCIS events (a receipt accepts some, rejects others)."""
    kinds = q.kinds()
    if not kinds:
        return []
    from_row = before_row = None
    if q.ge_time is not None:
        from_row = first_event_at(conn, q.ge_time)
        if from_row is None:
            return []
    if q.lt_time is not None:
        before_row = first_event_at(conn, q.lt_time)
    items = None
    if q.item_keys is not None:
        items = item_ids(conn, q.item_keys)
        if not items:
            return []
    # One event has a row per item it moved: keep each event once, at its last row so far.
    keys: dict[tuple[int, int, EventKind], EventKey] = {}
    while len(keys) < want:
        rows = event_keys(
            conn,
            kinds=kinds,
            after=after,
            limit=CHUNK,
            from_row=from_row,
            before_row=before_row,
            items=items,
        )
        if not rows:
            break
        for row in rows:
            keys[(row.block_number, row.log_index, row.kind)] = row
        after = rows[-1].row_id
    return list(keys.values())[:want]


def _no_note(_: ShipmentRow) -> None:
    return None


def _event(
    conn: Connection,
    key: EventKey,
    rows: list[EventItem],
    base: str,
    chain_id: int,
    note_of: NoteOf = _no_note,
) -> dict[str, Any]:
    block, log_index, kind = key.block_number, key.log_index, key.kind
    etype, action, step, disposition = EVENT_SHAPES[kind]

    def epc(item: EventItem) -> str:
        if item.is_container:
            return container_uri(base, item.code)
        assert item.gtin is not None
        return unit_uri(base, item.gtin, item.code)

    ref = event_reference(conn, block, log_index)
    tx_hash = "0x" + ref.tx_hash.hex()
    event: dict[str, Any] = {
        "type": etype,
        "eventID": "urn:uuid:"
        + str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{chain_id}:{tx_hash}:{log_index}:{int(kind)}")),
        "eventTime": iso_time(ref.timestamp),
        "eventTimeZoneOffset": "+00:00",
        "action": action,
        "bizStep": step,
    }
    roots = [r for r in rows if r.via_code is None]
    if etype == "AggregationEvent":
        parent = roots[0]
        event["parentID"] = container_uri(base, parent.code)
        inside = [r for r in rows if r.via_code == parent.code]
        direct = [r for r in inside if (r.parent_code == parent.code) == (kind is EventKind.PACKED)]
        event["childEPCs"] = [epc(r) for r in direct]
    else:
        event["epcList"] = [epc(r) for r in roots]
    if kind is EventKind.RECEIVED and any(r.status is ItemStatus.QUARANTINED for r in rows):
        disposition = "non_sellable_other"
    lots = {r.lot_index for r in rows if r.lot_index is not None}
    if disposition == "active" and lots_recalled_at(conn, lots, block):
        disposition = "recalled"
    event["disposition"] = disposition
    shipment_id = rows[0].shipment_id
    moved = None if shipment_id is None else shipment(conn, shipment_id)
    note = note_of(moved) if moved is not None and kind in enrich.NOTED else None
    event.update(enrich.location(conn, kind, holder=rows[0].holder, moved=moved, note=note))
    if moved is not None and note is not None and kind in (EventKind.SHIPPED, EventKind.RECEIVED):
        transactions = enrich.biz_transactions(conn, moved, note)
        if transactions:
            event["bizTransactionList"] = transactions
    if kind is EventKind.COMMISSIONED and rows[0].lot_number is not None:
        dates = None if rows[0].lot_index is None else lot_dates(conn, rows[0].lot_index)
        production, expiry = dates or (None, None)
        event["ilmd"] = enrich.ilmd(rows[0].lot_number, expiry=expiry, production=production)
    if moved is not None and kind in (EventKind.SHIPPED, EventKind.RECEIVED):
        event.update(enrich.parties(conn, chain_id, moved, note))
    if moved is not None and kind is EventKind.RECEIVED:
        sensors = enrich.receipt_sensors(moved)
        if sensors:
            event["sensorElementList"] = sensors
    event["medledger:blockNumber"] = block
    event["medledger:txHash"] = tx_hash
    event["medledger:logIndex"] = log_index
    if shipment_id is not None:
        event["medledger:shipmentId"] = shipment_id
    return event


def query_events(
    conn: Connection,
    q: EventQuery,
    *,
    base: str,
    chain_id: int,
    per_page: int,
    after: int = 0,
    note_of: NoteOf = _no_note,
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of EPCIS events and the token of the next page (None at the end); a
    shipment's delivery note (business transactions, sites) as `note_of` gives it."""
    events: list[dict[str, Any]] = []
    token: int | None = after
    while len(events) < per_page and token is not None:
        keys = _keys(conn, q, token, per_page - len(events) + 1)
        more = len(keys) > per_page - len(events)
        keys = keys[: per_page - len(events)]
        for key in keys:
            rows = event_items(conn, key.block_number, key.log_index, key.kind)
            event = _event(conn, key, rows, base, chain_id, note_of)
            token = key.row_id if q.item_keys is not None else max(r.row_id for r in rows)
            if q.wants(event):
                events.append(event)
        if not more:
            token = None
    return events, token


def query_document(events: list[dict[str, Any]], *, now: int) -> dict[str, Any]:
    return {
        "@context": CONTEXT,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": iso_time(now),
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {"eventList": events},
            }
        },
    }
