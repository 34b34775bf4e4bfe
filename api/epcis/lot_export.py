"""Lot quantity events as EPCIS 2.0: each lot in a contract's lot event (`lot_events`:
commissioned, shipped, received, rejected, dispensed, quarantined, released, destroyed)
becomes an ObjectEvent whose `quantityList` holds `{"epcClass": <lgtin>, "quantity": N,
"uom": "EA"}`, the lgtin an EPC class URN (TDS escaping of the lot) when the GTIN's company
prefix is registered, else the lot's Digital Link URI. A commissioning event carries `ilmd`:
the lot number and expiry (CBV master data) and the product's public master data (names,
model, registration certificate) under the `medledger:` namespace.

Served by `GET /v1/epcis/events?MATCH_epcClass=...`, paginated by an offset token.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection

from medledger.api.epcis.export import EVENT_ID_NAMESPACE, EVENT_SHAPES, EventQuery, iso_time
from medledger.api.epcis.identifiers import lgtin_urn, lot_uri, member_uri
from medledger.domain.master_data import MasterRecord
from medledger.indexer.items import EventKind
from medledger.indexer.queries.epcis import (
    LotEventRow,
    company_prefix_of,
    event_reference,
    lot_event_page,
    lots_recalled_at,
)
from medledger.indexer.queries.shipments import shipment
from medledger.sdk.dates import day_of

__all__ = ["LOT_KINDS", "MasterOf", "lot_class", "query_lot_events"]

LOT_KINDS = (
    EventKind.COMMISSIONED,
    EventKind.SHIPPED,
    EventKind.RECEIVED,
    EventKind.REJECTED,
    EventKind.DISPENSED,
    EventKind.QUARANTINED,
    EventKind.RELEASED,
    EventKind.DESTROYED,
)
MasterOf = Callable[[str], MasterRecord | None]


def lot_class(conn: Connection, base: str, gtin: str, lot: str) -> str:
    prefix = company_prefix_of(conn, gtin)
    if prefix is None or not 6 <= len(prefix) <= 12:
        return lot_uri(base, gtin, lot)
    return lgtin_urn(gtin, lot, company_prefix_length=len(prefix))


def _ilmd(row: LotEventRow, record: MasterRecord | None) -> dict[str, Any]:
    ilmd: dict[str, Any] = {
        "cbvmda:lotNumber": row.lot_number,
        "cbvmda:itemExpirationDate": day_of(row.expiry).isoformat(),
    }
    if record is not None:
        ilmd["medledger:productNameZh"] = record.name_zh
        if record.name_en:
            ilmd["medledger:productNameEn"] = record.name_en
        ilmd["medledger:model"] = record.model
        ilmd["medledger:registrationNumber"] = record.registration_number
    return ilmd


def _event(
    conn: Connection, row: LotEventRow, *, base: str, chain_id: int, master: MasterOf
) -> dict[str, Any]:
    etype, action, step, disposition = EVENT_SHAPES[row.kind]
    ref = event_reference(conn, row.block_number, row.log_index)
    tx_hash = "0x" + ref.tx_hash.hex()
    name = f"{chain_id}:{tx_hash}:{row.log_index}:{int(row.kind)}:lot:{row.lot_index}"
    if disposition == "active" and lots_recalled_at(conn, [row.lot_index], row.block_number):
        disposition = "recalled"
    event: dict[str, Any] = {
        "type": etype,
        "eventID": "urn:uuid:" + str(uuid.uuid5(EVENT_ID_NAMESPACE, name)),
        "eventTime": iso_time(ref.timestamp),
        "eventTimeZoneOffset": "+00:00",
        "epcList": [],
        "quantityList": [
            {
                "epcClass": lot_class(conn, base, row.gtin, row.lot_number),
                "quantity": row.quantity,
                "uom": "EA",
            }
        ],
        "action": action,
        "bizStep": step,
        "disposition": disposition,
    }
    if row.kind is EventKind.COMMISSIONED:
        event["ilmd"] = _ilmd(row, master(row.gtin))
    if row.shipment_id is not None:
        moved = shipment(conn, row.shipment_id)
        assert moved is not None, f"shipment {row.shipment_id} of an indexed lot event"
        event["sourceList"] = [
            {"type": "owning_party", "source": member_uri(chain_id, moved.sender.address)}
        ]
        event["destinationList"] = [
            {"type": "owning_party", "destination": member_uri(chain_id, moved.receiver.address)}
        ]
    elif row.holder is not None:
        event["medledger:holder"] = member_uri(chain_id, row.holder)
    event["medledger:blockNumber"] = row.block_number
    event["medledger:txHash"] = tx_hash
    event["medledger:logIndex"] = row.log_index
    if row.shipment_id is not None:
        event["medledger:shipmentId"] = row.shipment_id
    return event


def query_lot_events(
    conn: Connection,
    lot_indexes: Sequence[int],
    q: EventQuery,
    *,
    base: str,
    chain_id: int,
    master: MasterOf,
    per_page: int,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of the lots' quantity events and the offset of the next page (None: the end).
    The disposition filter is applied after building (a move of a recalled lot says
    `recalled`), so a page may hold fewer than `per_page` events."""
    kinds = [k for k in q.kinds() if k in LOT_KINDS]
    rows = lot_event_page(
        conn,
        lot_indexes,
        kinds=kinds,
        ge_time=q.ge_time,
        lt_time=q.lt_time,
        offset=offset,
        limit=per_page + 1,
    )
    events = [
        _event(conn, row, base=base, chain_id=chain_id, master=master) for row in rows[:per_page]
    ]
    token = offset + per_page if len(rows) > per_page else None
    return [e for e in events if q.wants(e)], token
