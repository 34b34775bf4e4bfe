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
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from api.epcis.identifiers import container_uri, member_uri, unit_uri
from indexer.db import Sql
from indexer.items import EventKind
from sdk.model import ItemStatus

__all__ = [
    "BIZ_STEPS",
    "CONTEXT",
    "DISPOSITIONS",
    "EventQuery",
    "query_document",
    "query_events",
]

CONTEXT: list[Any] = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    {"medledger": "https://medledger.example/epcis/"},
]
# kind -> (event type, action, bizStep, disposition)
_MAP: dict[EventKind, tuple[str, str, str, str]] = {
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
BIZ_STEPS = sorted({m[2] for m in _MAP.values()})
DISPOSITIONS = sorted({m[3] for m in _MAP.values()} | {"non_sellable_other", "recalled"})
CHUNK = 2000
_NS = uuid.UUID("1b7ac3a6-3f0e-4a52-9d44-5b1c1f0e7d21")


@dataclass(frozen=True, slots=True)
class EventQuery:
    """What to match; each list is an OR of its values (None: anything)."""

    item_keys: tuple[bytes, ...] | None = None
    biz_steps: frozenset[str] | None = None
    dispositions: frozenset[str] | None = None
    ge_time: int | None = None
    lt_time: int | None = None

    def kinds(self) -> list[int]:
        return [int(k) for k, m in _MAP.items() if self._may_match(k, m[2], m[3])]

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


def _iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _id_bound(sql: Sql, ts: int) -> int | None:
    found = sql.one("SELECT MIN(first_event_id) FROM blocks WHERE timestamp >= ?", (ts,))
    return None if found is None else int(found)


def _keys(sql: Sql, q: EventQuery, after: int, want: int) -> list[tuple[int, int, int, int]]:
    """Up to `want` events (block, log index, kind, token row id) after row id `after`.
    One contract event may be two EPCIS events (a receipt accepts some, rejects others)."""
    kinds = q.kinds()
    if not kinds:
        return []
    marks = ",".join("?" * len(kinds))
    where = [f"e.kind IN ({marks})", "e.id > ?"]
    params: list[Any] = [*kinds, after]
    if q.ge_time is not None:
        lo = _id_bound(sql, q.ge_time)
        if lo is None:
            return []
        where.append("e.id >= ?")
        params.append(lo)
    if q.lt_time is not None and (hi := _id_bound(sql, q.lt_time)) is not None:
        where.append("e.id < ?")
        params.append(hi)
    if q.item_keys is not None:
        marks = ",".join("?" * len(q.item_keys))
        items = [
            int(r[0])
            for r in sql.rows(f"SELECT id FROM items WHERE item_key IN ({marks})", q.item_keys)
        ]
        if not items:
            return []
        where.append(f"e.item_id IN ({','.join('?' * len(items))})")
        params += items
    # One event has a row per item it moved: keep each event once, at its last row so far.
    keys: dict[tuple[int, int, int], int] = {}
    while len(keys) < want:
        rows = sql.rows(
            f"SELECT e.block_number, e.log_index, e.kind, e.id FROM item_events e "
            f"WHERE {' AND '.join(where)} ORDER BY e.id LIMIT ?",
            [*params, CHUNK],
        )
        if not rows:
            break
        for b, i, k, r in rows:
            keys[(int(b), int(i), int(k))] = int(r)  # the event's last row so far
        params[len(kinds)] = int(rows[-1][3])
    return [(b, i, k, r) for (b, i, k), r in list(keys.items())[:want]]


def _group(sql: Sql, block: int, log_index: int, kind: int) -> list[tuple[Any, ...]]:
    lo = sql.one("SELECT first_event_id FROM blocks WHERE number = ?", (block,))
    hi = sql.one(
        "SELECT first_event_id FROM blocks WHERE number > ? AND first_event_id IS NOT NULL "
        "ORDER BY number LIMIT 1",
        (block,),
    )
    where = "e.block_number = ? AND e.log_index = ? AND e.kind = ? AND e.id >= ?"
    params: list[Any] = [block, log_index, kind, int(lo or 0)]
    if hi is not None:
        where += " AND e.id < ?"
        params.append(int(hi))
    return sql.rows(
        "SELECT e.id, i.code, i.is_container, l.gtin, l.lot_number, e.kind, o.address, "
        "e.status, p.code, v.code, e.shipment_id, i.lot_index "
        "FROM item_events e JOIN items i ON i.id = e.item_id "
        "LEFT JOIN lots l ON l.lot_index = i.lot_index "
        "JOIN organisations o ON o.id = e.holder_id "
        "LEFT JOIN items p ON p.id = e.parent_id LEFT JOIN items v ON v.id = e.via_id "
        f"WHERE {where} ORDER BY e.id",
        params,
    )


def _recalled(sql: Sql, block: int, lots: set[Any]) -> bool:
    """Whether any of `lots` was under an open recall at `block`."""
    if not lots:
        return False
    marks = ",".join("?" * len(lots))
    return (
        sql.one(
            f"SELECT 1 FROM recalls WHERE lot_index IN ({marks}) AND opened_block <= ? "
            "AND (closed_block IS NULL OR closed_block > ?) LIMIT 1",
            [*(int(x) for x in lots), block, block],
        )
        is not None
    )


def _event(
    sql: Sql, block: int, log_index: int, rows: list[tuple[Any, ...]], base: str, chain_id: int
) -> dict[str, Any]:
    kind = EventKind(int(rows[0][5]))
    etype, action, step, disposition = _MAP[kind]

    def epc(code: str, is_container: bool, gtin: str | None) -> str:
        if is_container:
            return container_uri(base, code)
        assert gtin is not None
        return unit_uri(base, gtin, code)

    ts, tx = sql.rows(
        "SELECT b.timestamp, l.tx_hash FROM blocks b JOIN processed_logs l "
        "ON l.block_number = b.number AND l.log_index = ? WHERE b.number = ?",
        (log_index, block),
    )[0]
    tx_hash = "0x" + bytes(tx).hex()
    event: dict[str, Any] = {
        "type": etype,
        "eventID": "urn:uuid:"
        + str(uuid.uuid5(_NS, f"{chain_id}:{tx_hash}:{log_index}:{int(kind)}")),
        "eventTime": _iso(int(ts)),
        "eventTimeZoneOffset": "+00:00",
        "action": action,
        "bizStep": step,
    }
    roots = [r for r in rows if r[9] is None]
    if etype == "AggregationEvent":
        parent = roots[0]
        event["parentID"] = container_uri(base, str(parent[1]))
        inside = [r for r in rows if r[9] == parent[1]]
        direct = [r for r in inside if (r[8] == parent[1]) == (kind is EventKind.PACKED)]
        event["childEPCs"] = [epc(str(r[1]), bool(r[2]), r[3]) for r in direct]
    else:
        event["epcList"] = [epc(str(r[1]), bool(r[2]), r[3]) for r in roots]
    if kind is EventKind.RECEIVED and any(int(r[7]) == ItemStatus.QUARANTINED for r in rows):
        disposition = "non_sellable_other"
    if disposition == "active" and _recalled(sql, block, {r[11] for r in rows} - {None}):
        disposition = "recalled"
    event["disposition"] = disposition
    if kind is EventKind.COMMISSIONED and rows[0][4] is not None:
        event["ilmd"] = {"cbvmda:lotNumber": str(rows[0][4])}
    shipment = rows[0][10]
    if shipment is not None and kind in (EventKind.SHIPPED, EventKind.RECEIVED):
        sender, receiver = sql.rows(
            "SELECT so.address, ro.address FROM shipments s "
            "JOIN organisations so ON so.id = s.sender_id "
            "JOIN organisations ro ON ro.id = s.receiver_id WHERE s.id = ?",
            (int(shipment),),
        )[0]
        event["sourceList"] = [
            {"type": "owning_party", "source": member_uri(chain_id, str(sender))}
        ]
        event["destinationList"] = [
            {"type": "owning_party", "destination": member_uri(chain_id, str(receiver))}
        ]
    event["medledger:blockNumber"] = block
    event["medledger:txHash"] = tx_hash
    event["medledger:logIndex"] = log_index
    if shipment is not None:
        event["medledger:shipmentId"] = int(shipment)
    return event


def query_events(
    conn: Connection,
    q: EventQuery,
    *,
    base: str,
    chain_id: int,
    per_page: int,
    after: int = 0,
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of EPCIS events and the token of the next page (None at the end)."""
    sql = Sql(conn)
    events: list[dict[str, Any]] = []
    token: int | None = after
    while len(events) < per_page and token is not None:
        keys = _keys(sql, q, token, per_page - len(events) + 1)
        more = len(keys) > per_page - len(events)
        keys = keys[: per_page - len(events)]
        for block, log_index, kind, row in keys:
            rows = _group(sql, block, log_index, kind)
            event = _event(sql, block, log_index, rows, base, chain_id)
            token = row if q.item_keys is not None else max(int(r[0]) for r in rows)
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
        "creationDate": _iso(now),
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {"eventList": events},
            }
        },
    }
