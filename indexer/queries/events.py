"""Reads of the event outbox (`ledger_events`, written by `indexer.outbox`): the events
after a sequence number that one member (or the regulator) is entitled to, filtered."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from medledger.indexer.db import Sql
from medledger.indexer.outbox import SHIPMENT_KINDS

__all__ = [
    "EventRow",
    "UnitParties",
    "events_after",
    "last_seq",
    "lot_manufacturer",
    "member_standing",
    "organisation_id",
    "unit_parties",
]

_COLUMNS = (
    "e.seq, e.kind, e.occurred_at, e.block_number, e.tx_hash, e.log_index, e.gtin, e.lot, "
    "e.shipment_id, e.counterparty, e.location, e.data"
)


@dataclass(frozen=True, slots=True)
class EventRow:
    seq: int
    kind: str
    occurred_at: int
    block_number: int | None
    tx_hash: bytes | None
    log_index: int | None
    gtin: str | None
    lot: str | None
    shipment_id: int | None
    counterparty: str | None
    location: str | None
    data: dict[str, Any]


def organisation_id(conn: Connection, address: str) -> int | None:
    """The read model's id of a member, None if it has none (then it has no events)."""
    found = Sql(conn).one("SELECT id FROM organisations WHERE address = ?", (address,))
    return None if found is None else int(found)


def last_seq(conn: Connection) -> int:
    """The newest event's seq (0 when there is none)."""
    return int(Sql(conn).one("SELECT COALESCE(MAX(seq), 0) FROM ledger_events"))


def events_after(
    conn: Connection,
    after_seq: int,
    *,
    organisation_id: int | None,
    kinds: Sequence[str] = (),
    gtin: str | None = None,
    lot: str | None = None,
    counterparty: str | None = None,
    location: str | None = None,
    limit: int = 100,
) -> list[EventRow]:
    """Events with seq > `after_seq` in seq order, at most `limit`: those of the member
    `organisation_id` (its audience rows), or every one when it is None (the regulator).
    Empty `kinds` means every kind."""
    where = ["e.seq > ?"]
    params: list[Any] = [after_seq]
    joins = ""
    if organisation_id is not None:
        joins = " JOIN ledger_event_audience a ON a.seq = e.seq AND a.organisation_id = ?"
        params.insert(0, organisation_id)
    if kinds:
        where.append(f"e.kind IN ({','.join('?' * len(kinds))})")
        params.extend(kinds)
    for column, value in (("gtin", gtin), ("lot", lot), ("location", location)):
        if value is not None:
            where.append(f"e.{column} = ?")
            params.append(value)
    if counterparty is not None:
        clause, values = _counterparty(counterparty, organisation_id)
        where.append(clause)
        params.extend(values)
    params.append(limit)
    rows = Sql(conn).rows(
        f"SELECT {_COLUMNS} FROM ledger_events e{joins} WHERE {' AND '.join(where)} "
        "ORDER BY e.seq LIMIT ?",
        params,
    )
    return [
        EventRow(
            int(r[0]),
            str(r[1]),
            int(r[2]),
            None if r[3] is None else int(r[3]),
            None if r[4] is None else bytes(r[4]),
            None if r[5] is None else int(r[5]),
            r[6],
            r[7],
            None if r[8] is None else int(r[8]),
            r[9],
            r[10],
            json.loads(r[11]),
        )
        for r in rows
    ]


def _counterparty(address: str, organisation_id: int | None) -> tuple[str, list[Any]]:
    """The WHERE clause of a counterparty filter. A shipment event matches when `address`
    is the other party as the reader sees it (either party for the regulator); any other
    event when its `counterparty` column (a recall's initiator...) is `address`."""
    kinds = ",".join("?" * len(SHIPMENT_KINDS))
    other = "" if organisation_id is None else " AND p.organisation_id <> ?"
    party = (
        "EXISTS (SELECT 1 FROM ledger_event_audience p "
        "JOIN organisations o ON o.id = p.organisation_id "
        f"WHERE p.seq = e.seq AND o.address = ?{other})"
    )
    clause = (
        f"((e.kind IN ({kinds}) AND {party}) OR (e.kind NOT IN ({kinds}) AND e.counterparty = ?))"
    )
    values: list[Any] = [*SHIPMENT_KINDS, address]
    if organisation_id is not None:
        values.append(organisation_id)
    return clause, [*values, *SHIPMENT_KINDS, address]


def member_standing(conn: Connection, address: str) -> tuple[int, int] | None:
    """(role, status) of the member at `address`, None if the read model has none."""
    rows = Sql(conn).rows("SELECT role, status FROM organisations WHERE address = ?", (address,))
    return None if not rows else (int(rows[0][0]), int(rows[0][1]))


@dataclass(frozen=True, slots=True)
class UnitParties:
    """A unit's product, lot and serial, its holder and its lot's manufacturer."""

    gtin: str
    lot: str
    serial: str
    holder: str
    manufacturer: str


def unit_parties(conn: Connection, item_key: bytes) -> UnitParties | None:
    rows = Sql(conn).rows(
        "SELECT l.gtin, l.lot_number, i.code, h.address, m.address FROM items i "
        "JOIN lots l ON l.lot_index = i.lot_index JOIN products p ON p.gtin = l.gtin "
        "JOIN organisations h ON h.id = i.holder_id "
        "JOIN organisations m ON m.id = p.manufacturer_id WHERE i.item_key = ?",
        (item_key,),
    )
    return None if not rows else UnitParties(*(str(v) for v in rows[0]))


def lot_manufacturer(conn: Connection, gtin: str, lot: str) -> str | None:
    found = Sql(conn).one(
        "SELECT m.address FROM lots l JOIN products p ON p.gtin = l.gtin "
        "JOIN organisations m ON m.id = p.manufacturer_id "
        "WHERE l.gtin = ? AND l.lot_number = ?",
        (gtin, lot),
    )
    return None if found is None else str(found)
