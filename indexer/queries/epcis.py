"""What the EPCIS face reads from the read model.

Export (`api.epcis.export`): pages of item events in row-id order, the items one contract
event moved (one query), whether a lot was under an open recall at a block, and the chain
reference of an event. Capture (`api.epcis.plan`): the open shipment holding some items and
the storage range of the products a shipment carries.

An item event's row id (`item_events.id`) grows with the chain, and each block records the
id of its first event (`blocks.first_event_id`): a time range or a block is turned into a
row-id range, so `item_events` is read on its primary key (tests/indexer/test_queries.py
checks the plans). `blocks` has no index on time: `first_event_at` reads it whole.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection

from medledger.indexer.db import Sql
from medledger.indexer.items import EventKind
from medledger.sdk.model import ItemStatus

__all__ = [
    "ChainRef",
    "block_rows",
    "EventItem",
    "EventKey",
    "StorageRange",
    "event_items",
    "event_keys",
    "event_reference",
    "first_event_at",
    "item_ids",
    "LotEventRow",
    "company_prefix_of",
    "logged_tx",
    "lot_dates",
    "lot_event_page",
    "lot_visible",
    "lots_recalled_at",
    "open_shipment_holding",
    "storage_range",
]


def _marks(values: Collection[Any]) -> str:
    return ",".join("?" * len(values))


def block_rows(sql: Sql, block: int) -> tuple[str, list[Any]]:
    """A condition on `e.id` (and its parameters) selecting the item events of `block`."""
    lo = sql.one("SELECT first_event_id FROM blocks WHERE number = ?", (block,))
    hi = sql.one(
        "SELECT first_event_id FROM blocks WHERE number > ? AND first_event_id IS NOT NULL "
        "ORDER BY number LIMIT 1",
        (block,),
    )
    if hi is None:
        return "e.id >= ?", [int(lo or 0)]
    return "e.id >= ? AND e.id < ?", [int(lo or 0), int(hi)]


def first_event_at(conn: Connection, timestamp: int) -> int | None:
    """The row id of the first item event in a block at or after `timestamp` (None: no
    such event yet)."""
    found = Sql(conn).one(
        "SELECT MIN(first_event_id) FROM blocks WHERE timestamp >= ?", (timestamp,)
    )
    return None if found is None else int(found)


def item_ids(conn: Connection, item_keys: Sequence[bytes]) -> list[int]:
    """The row ids of the known items among `item_keys`."""
    if not item_keys:
        return []
    rows = Sql(conn).rows(
        f"SELECT id FROM items WHERE item_key IN ({_marks(item_keys)})", item_keys
    )
    return [int(row_id) for (row_id,) in rows]


@dataclass(frozen=True, slots=True)
class EventKey:
    """One item row of a contract event: the event is (block, log index, kind)."""

    block_number: int
    log_index: int
    kind: EventKind
    row_id: int


def event_keys(
    conn: Connection,
    *,
    kinds: Sequence[EventKind],
    after: int,
    limit: int,
    from_row: int | None = None,
    before_row: int | None = None,
    items: Sequence[int] | None = None,
) -> list[EventKey]:
    """Up to `limit` item-event rows of `kinds` after row id `after`, in row-id order;
    optionally from row `from_row` on, before row `before_row`, of the items `items`."""
    where = [f"e.kind IN ({_marks(kinds)})", "e.id > ?"]
    params: list[Any] = [*(int(k) for k in kinds), after]
    if from_row is not None:
        where.append("e.id >= ?")
        params.append(from_row)
    if before_row is not None:
        where.append("e.id < ?")
        params.append(before_row)
    if items is not None:
        where.append(f"e.item_id IN ({_marks(items)})")
        params += items
    rows = Sql(conn).rows(
        f"SELECT e.block_number, e.log_index, e.kind, e.id FROM item_events e "
        f"WHERE {' AND '.join(where)} ORDER BY e.id LIMIT ?",
        [*params, limit],
    )
    return [
        EventKey(block_number=int(block), log_index=int(index), kind=EventKind(kind), row_id=int(r))
        for block, index, kind, r in rows
    ]


@dataclass(frozen=True, slots=True)
class EventItem:
    """One item a contract event moved, as the event left it."""

    row_id: int
    code: str  # serial of a unit, SSCC of a container
    is_container: bool
    gtin: str | None
    lot_number: str | None
    lot_index: int | None
    kind: EventKind
    holder: str
    status: ItemStatus
    parent_code: str | None  # the container holding the item after the event
    via_code: str | None  # the container that moved, when the item moved inside one
    shipment_id: int | None


def event_items(conn: Connection, block: int, log_index: int, kind: EventKind) -> list[EventItem]:
    """Every item the contract event (block, log index, kind) moved, in row-id order."""
    sql = Sql(conn)
    rows_of_block, params = block_rows(sql, block)
    where = f"e.block_number = ? AND e.log_index = ? AND e.kind = ? AND {rows_of_block}"
    params = [block, log_index, int(kind), *params]
    rows = sql.rows(
        # A case (package level) is named by its package GTIN, not its lot's unit GTIN.
        "SELECT e.id, i.code, i.is_container, COALESCE(c.package_gtin, l.gtin), l.lot_number, "
        "i.lot_index, e.kind, o.address, e.status, p.code, v.code, e.shipment_id "
        "FROM item_events e JOIN items i ON i.id = e.item_id "
        "LEFT JOIN lots l ON l.lot_index = i.lot_index "
        "LEFT JOIN case_contents c ON c.item_id = i.id "
        "JOIN organisations o ON o.id = e.holder_id "
        "LEFT JOIN items p ON p.id = e.parent_id LEFT JOIN items v ON v.id = e.via_id "
        f"WHERE {where} ORDER BY e.id",
        params,
    )
    return [
        EventItem(
            row_id=int(row_id),
            code=str(code),
            is_container=bool(is_container),
            gtin=None if gtin is None else str(gtin),
            lot_number=None if lot_number is None else str(lot_number),
            lot_index=None if lot_index is None else int(lot_index),
            kind=EventKind(event_kind),
            holder=str(holder),
            status=ItemStatus(status),
            parent_code=None if parent is None else str(parent),
            via_code=None if via is None else str(via),
            shipment_id=None if shipment is None else int(shipment),
        )
        for (
            row_id,
            code,
            is_container,
            gtin,
            lot_number,
            lot_index,
            event_kind,
            holder,
            status,
            parent,
            via,
            shipment,
        ) in rows
    ]


def lots_recalled_at(conn: Connection, lot_indexes: Collection[int], block: int) -> bool:
    """Whether any of the lots was under an open recall at `block`."""
    if not lot_indexes:
        return False
    found = Sql(conn).one(
        f"SELECT 1 FROM recalls WHERE lot_index IN ({_marks(lot_indexes)}) AND opened_block <= ? "
        "AND (closed_block IS NULL OR closed_block > ?) LIMIT 1",
        [*lot_indexes, block, block],
    )
    return found is not None


class ChainRef(NamedTuple):
    timestamp: int  # of the block
    tx_hash: bytes


def event_reference(conn: Connection, block: int, log_index: int) -> ChainRef:
    """The block time and transaction of the indexed log (block, log index)."""
    ((timestamp, tx_hash),) = Sql(conn).rows(
        "SELECT b.timestamp, l.tx_hash FROM blocks b JOIN processed_logs l "
        "ON l.block_number = b.number AND l.log_index = ? WHERE b.number = ?",
        (log_index, block),
    )
    return ChainRef(int(timestamp), bytes(tx_hash))


def logged_tx(conn: Connection, block: int, log_index: int) -> bytes | None:
    """The transaction of the indexed log (block, log index), or None if not indexed."""
    found = Sql(conn).rows(
        "SELECT tx_hash FROM processed_logs WHERE block_number = ? AND log_index = ?",
        (block, log_index),
    )
    return bytes(found[0][0]) if found else None


def open_shipment_holding(conn: Connection, item_keys: Sequence[bytes]) -> int | None:
    """The newest shipment that shipped any of the items still in transit (None: none)."""
    if not item_keys:
        return None
    found = Sql(conn).one(
        "SELECT MAX(e.shipment_id) FROM item_events e JOIN items i ON i.id = e.item_id "
        f"WHERE i.item_key IN ({_marks(item_keys)}) AND e.kind = ? AND i.status = ?",
        [*item_keys, int(EventKind.SHIPPED), int(ItemStatus.IN_TRANSIT)],
    )
    return None if found is None else int(found)


class StorageRange(NamedTuple):
    """In tenths of a degree Celsius."""

    temp_min: int
    temp_max: int


def storage_range(conn: Connection, shipment_id: int) -> StorageRange | None:
    """The range every product the shipment shipped may be stored in (the narrowest of
    their ranges); None for a shipment that shipped no unit."""
    sql = Sql(conn)
    sent_block = sql.one("SELECT sent_block FROM shipments WHERE id = ?", (shipment_id,))
    if sent_block is None:
        return None
    # A shipment's items are shipped by one event, in the block it was sent in.
    rows_of_block, params = block_rows(sql, int(sent_block))
    rows = sql.rows(
        "SELECT MAX(p.temp_min), MIN(p.temp_max) FROM item_events e "
        "JOIN items i ON i.id = e.item_id JOIN lots l ON l.lot_index = i.lot_index "
        f"JOIN products p ON p.gtin = l.gtin WHERE {rows_of_block} AND e.shipment_id = ? "
        "AND e.kind = ?",
        (*params, shipment_id, int(EventKind.SHIPPED)),
    )
    if not rows or rows[0][0] is None:
        return None
    ((temp_min, temp_max),) = rows
    return StorageRange(int(temp_min), int(temp_max))


# ---------------------------------------------------------------- lot quantity events


@dataclass(frozen=True, slots=True)
class LotEventRow:
    """One lot's quantity in one lot event (`lot_events`), with its lot and holder."""

    block_number: int
    log_index: int
    kind: EventKind
    lot_index: int
    gtin: str
    lot_number: str
    expiry: int
    quantity: int
    holder: str | None  # address; None for shipment events
    shipment_id: int | None


def lot_event_page(
    conn: Connection,
    lot_indexes: Sequence[int],
    *,
    kinds: Sequence[EventKind],
    ge_time: int | None,
    lt_time: int | None,
    offset: int,
    limit: int,
) -> list[LotEventRow]:
    """The lots' quantity events in chain order, `limit` from `offset`."""
    if not lot_indexes or not kinds:
        return []
    where = [f"e.lot_index IN ({_marks(lot_indexes)})", f"e.kind IN ({_marks(kinds)})"]
    params: list[Any] = [*lot_indexes, *(int(k) for k in kinds)]
    if ge_time is not None:
        where.append("b.timestamp >= ?")
        params.append(ge_time)
    if lt_time is not None:
        where.append("b.timestamp < ?")
        params.append(lt_time)
    rows = Sql(conn).rows(
        "SELECT e.block_number, e.log_index, e.kind, e.lot_index, l.gtin, l.lot_number, "
        "l.expiry, e.quantity, o.address, e.shipment_id FROM lot_events e "
        "JOIN lots l ON l.lot_index = e.lot_index JOIN blocks b ON b.number = e.block_number "
        "LEFT JOIN organisations o ON o.id = e.holder_id "
        f"WHERE {' AND '.join(where)} "
        "ORDER BY e.block_number, e.log_index, e.kind, e.lot_index LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return [
        LotEventRow(
            block_number=int(block),
            log_index=int(log_index),
            kind=EventKind(kind),
            lot_index=int(lot_index),
            gtin=str(gtin),
            lot_number=str(lot_number),
            expiry=int(expiry),
            quantity=int(quantity),
            holder=None if holder is None else str(holder),
            shipment_id=None if shipment is None else int(shipment),
        )
        for (
            block,
            log_index,
            kind,
            lot_index,
            gtin,
            lot_number,
            expiry,
            quantity,
            holder,
            shipment,
        ) in rows
    ]


def lot_visible(conn: Connection, lot_key: bytes, address: str | None) -> int | None:
    """The lot's index if it is known and `address` (None: the regulator) may see its
    events: its manufacturer, or a member that holds or held some of it."""
    sql = Sql(conn)
    found = sql.one("SELECT lot_index FROM lots WHERE lot_key = ?", (lot_key,))
    if found is None:
        return None
    if address is None:
        return int(found)
    seen = sql.one(
        "SELECT 1 FROM lots l JOIN products p ON p.gtin = l.gtin "
        "JOIN organisations o ON o.id = p.manufacturer_id WHERE l.lot_index = ? AND o.address = ? "
        "UNION SELECT 1 FROM lot_balances b JOIN organisations o ON o.id = b.organisation_id "
        "WHERE b.lot_index = ? AND o.address = ?",
        (found, address, found, address),
    )
    return int(found) if seen is not None else None


def company_prefix_of(conn: Connection, gtin: str) -> str | None:
    """The registered GS1 company prefix the GTIN is made with (its EPC URN split)."""
    prefixes = [str(p) for (p,) in Sql(conn).rows("SELECT prefix FROM company_prefixes", ())]
    return next((p for p in prefixes if gtin[1 : 1 + len(p)] == p), None)


def lot_dates(conn: Connection, lot_index: int) -> tuple[int, int] | None:
    """(production date, expiry) of a lot, unix seconds, or None."""
    found = Sql(conn).rows(
        "SELECT production_date, expiry FROM lots WHERE lot_index = ?", (lot_index,)
    )
    return (int(found[0][0]), int(found[0][1])) if found else None
