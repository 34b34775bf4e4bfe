"""The event outbox (issue #17): `ledger_events` rows and their audience, written in the
same transaction as what they report, so an event is delivered exactly when its cause is
committed, and a reorg rewind (`indexer.rewind`) deletes the events of the blocks it drops.

The projector builds events through `Outbox` (buffered, written by `flush` after the
batch's items, so a recall's audience sees the lot's reach up to its block); off-chain
writers (scans, the adverse-event rate evaluator) call `write_event` in their own
transaction. Every writer of `ledger_events` takes one PostgreSQL transaction lock, so
sequence numbers are committed in order and a reader that saw `seq` N never later finds
a smaller one committed (SQLite serialises writers anyway).

Kinds are dotted lower-case strings (`LedgerEventKind`); `domain.events.EventKind` is this
enum. Data values carry units (`{"value": 2.5, "unit": "Cel"}`) and addresses, never a
name: the wire shape (`domain.events.event_json`) adds names when it is read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import Connection

from medledger.indexer.db import Sql

__all__ = [
    "EVENT_WRITE_LOCK",
    "LedgerEventKind",
    "SHIPMENT_KINDS",
    "NewEvent",
    "Outbox",
    "celsius",
    "rewind_events",
    "write_event",
]

# pg_advisory_xact_lock key of `ledger_events` writers ("MLEVENTS" in ASCII).
EVENT_WRITE_LOCK: Final = 0x4D4C4556454E5453


class LedgerEventKind(StrEnum):
    """What an event reports. Open: issue #18 adds `alert.excursion` from IoT loggers."""

    SHIPMENT_INBOUND = "shipment.inbound"
    SHIPMENT_RECEIVED = "shipment.received"
    SHIPMENT_REJECTED = "shipment.rejected"
    SHIPMENT_CANCELLED = "shipment.cancelled"
    RECALL_ISSUED = "recall.issued"
    RECALL_UPDATED = "recall.updated"
    RECALL_CLOSED = "recall.closed"
    ITEM_QUARANTINED = "item.quarantined"
    ITEM_RELEASED = "item.released"
    LICENCE_CHANGED = "licence.changed"
    ALERT_COLD_CHAIN = "alert.cold_chain"
    ALERT_SCAN_ANOMALY = "alert.scan_anomaly"
    ALERT_ADVERSE_EVENT_RATE = "alert.adverse_event_rate"


# A shipment's events go to its two parties (their audience rows): the counterparty a
# reader filters on is the other one, the sender of an inbound shipment or the receiver of
# an outbound one (`indexer.queries.events.events_after`).
SHIPMENT_KINDS: Final = tuple(
    str(k)
    for k in (
        LedgerEventKind.SHIPMENT_INBOUND,
        LedgerEventKind.SHIPMENT_RECEIVED,
        LedgerEventKind.SHIPMENT_REJECTED,
        LedgerEventKind.SHIPMENT_CANCELLED,
    )
)


def celsius(tenths: int) -> dict[str, Any]:
    """A temperature the contracts keep in tenths of a degree, labelled (UCUM `Cel`)."""
    return {"value": tenths / 10, "unit": "Cel"}


@dataclass(slots=True)
class NewEvent:
    """One event to write; `audience` holds organisation ids, `reach_lot` adds every
    organisation the lot reached up to the event's block (resolved at flush)."""

    kind: LedgerEventKind
    occurred_at: int
    data: dict[str, Any]
    audience: set[int] = field(default_factory=set)
    block_number: int | None = None
    tx_hash: bytes | None = None
    log_index: int | None = None
    gtin: str | None = None
    lot: str | None = None
    shipment_id: int | None = None
    counterparty: str | None = None
    location: str | None = None
    dedupe_key: str | None = None
    reach_lot: int | None = None


@dataclass(frozen=True, slots=True)
class LotFacts:
    gtin: str
    lot: str
    manufacturer_id: int


_INSERT: Final = (
    "INSERT INTO ledger_events (kind, occurred_at, block_number, tx_hash, log_index, gtin, "
    "lot, shipment_id, counterparty, location, dedupe_key, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
)


def _insert(sql: Sql, event: NewEvent) -> int | None:
    """Insert one row; its seq, or None when its dedupe key was already written."""
    params = (
        str(event.kind),
        event.occurred_at,
        event.block_number,
        event.tx_hash,
        event.log_index,
        event.gtin,
        event.lot,
        event.shipment_id,
        event.counterparty,
        event.location,
        event.dedupe_key,
        json.dumps(event.data, sort_keys=True, separators=(",", ":")),
    )
    tail = "ON CONFLICT (dedupe_key) DO NOTHING " if event.dedupe_key else ""
    seq = sql.one(_INSERT + tail + "RETURNING seq", params)
    return None if seq is None else int(seq)


def _lock(sql: Sql) -> None:
    if sql.is_pg:
        sql.one("SELECT pg_advisory_xact_lock(?)", (EVENT_WRITE_LOCK,))


def _write(sql: Sql, events: Iterable[NewEvent]) -> list[int]:
    written: list[int] = []
    audience: list[tuple[int, int]] = []
    for event in events:
        seq = _insert(sql, event)
        if seq is None:
            continue
        written.append(seq)
        audience.extend((org, seq) for org in sorted(event.audience))
    sql.bulk_insert("ledger_event_audience", ("organisation_id", "seq"), audience)
    return written


def write_event(conn: Connection, event: NewEvent, *, audience: Sequence[str] = ()) -> int | None:
    """Write one off-chain event in the caller's transaction (the caller commits); members
    in `audience` by address (unknown ones are ignored). None if its dedupe key was
    written before."""
    sql = Sql(conn)
    _lock(sql)
    if audience:
        marks = ",".join("?" * len(audience))
        event.audience |= {
            int(r[0])
            for r in sql.rows(
                f"SELECT id FROM organisations WHERE address IN ({marks})", tuple(audience)
            )
        }
    written = _write(sql, [event])
    return written[0] if written else None


class Outbox:
    """The projector's buffer of events for one batch."""

    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        self.pending: list[NewEvent] = []
        self.times: dict[int, int] = {}
        self._lots: dict[int, LotFacts] = {}

    def begin(self, times: Mapping[int, int]) -> None:
        """Start a batch whose blocks have these timestamps."""
        self.times = dict(times)

    def lot(self, lot_index: int) -> LotFacts:
        found = self._lots.get(lot_index)
        if found is None:
            row = self.sql.rows(
                "SELECT l.gtin, l.lot_number, p.manufacturer_id FROM lots l "
                "JOIN products p ON p.gtin = l.gtin WHERE l.lot_index = ?",
                (lot_index,),
            )[0]
            found = LotFacts(str(row[0]), str(row[1]), int(row[2]))
            self._lots[lot_index] = found
        return found

    def chain_event(
        self,
        kind: LedgerEventKind,
        *,
        block: int,
        tx_hash: bytes,
        log_index: int,
        data: dict[str, Any],
        audience: Iterable[int],
        lots: Iterable[int] = (),
        makers: bool = False,
        **subject: Any,
    ) -> NewEvent:
        """Buffer an event of a chain log; with exactly one lot in `lots`, it is the
        event's gtin and lot (for filters); `makers`: each lot's manufacturer joins the
        audience."""
        facts = [self.lot(i) for i in sorted(set(lots))]
        makers_ids = {f.manufacturer_id for f in facts} if makers else set()
        event = NewEvent(
            kind,
            self.times.get(block, 0),
            data,
            audience={*audience, *makers_ids},
            block_number=block,
            tx_hash=tx_hash,
            log_index=log_index,
            **subject,
        )
        if len(facts) == 1:
            event.gtin, event.lot = facts[0].gtin, facts[0].lot
        if facts and "lots" not in data:
            data["lots"] = [{"gtin": f.gtin, "lot": f.lot} for f in facts]
        self.pending.append(event)
        return event

    def flush(self) -> int:
        """Write the buffered events (after the batch's items and reach); their count."""
        if not self.pending:
            return 0
        _lock(self.sql)
        for event in self.pending:
            if event.reach_lot is not None:
                event.audience |= self._reach(event.reach_lot, event.block_number or 0)
        written = _write(self.sql, self.pending)
        self.pending = []
        return len(written)

    def _reach(self, lot_index: int, block: int) -> set[int]:
        """Every organisation that holds or held the lot: its units and cases by `block`
        (`lot_reach`), and loose quantities (a `lot_balances` row stays once held)."""
        rows = self.sql.rows(
            "SELECT organisation_id FROM lot_reach WHERE lot_index = ? AND first_block <= ? "
            "UNION SELECT organisation_id FROM lot_balances WHERE lot_index = ?",
            (lot_index, block, lot_index),
        )
        return {int(r[0]) for r in rows}


def rewind_events(sql: Sql, ancestor: int) -> None:
    """Delete the events of blocks above `ancestor` (off-chain events stay). Their seqs are
    never given again, so a cursor already past them skips nothing that follows."""
    sql.run(
        "DELETE FROM ledger_event_audience WHERE seq IN "
        "(SELECT seq FROM ledger_events WHERE block_number > ?)",
        (ancestor,),
    )
    sql.run("DELETE FROM ledger_events WHERE block_number > ?", (ancestor,))
