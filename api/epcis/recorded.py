"""Recognising events the ledger already recorded: what our own export wrote, captured
back (capture(export(x)) leaves the ledger unchanged).

An exported event names its chain reference (`medledger:blockNumber`, `medledger:logIndex`,
`medledger:txHash`) and its `eventID` is derived from it (`api.epcis.export`). An event
whose reference is a log the read model indexed, in that transaction, and whose eventID is
the one the export derives for it, is already recorded: capture reports it as such and
plans nothing for it. Without the reference (a document stripped of our extension
fields), an event is planned like any other, and the ledger's own rules (an item cannot
be commissioned twice, a shipped item is not at its sender) refuse a repetition.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection

from medledger.api.epcis.export import EVENT_ID_NAMESPACE, EVENT_SHAPES
from medledger.indexer.queries.epcis import logged_tx

__all__ = ["already_recorded"]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _recorded_tx(conn: Connection, event: Any, chain_id: int) -> str | None:
    if not isinstance(event, dict):
        return None
    block, log_index = (
        _int(event.get("medledger:blockNumber")),
        _int(event.get("medledger:logIndex")),
    )
    tx_hash, event_id = event.get("medledger:txHash"), event.get("eventID")
    if block is None or log_index is None or not isinstance(tx_hash, str):
        return None
    if block >= 2**63 or log_index >= 2**31:
        return None
    logged = logged_tx(conn, block, log_index)
    if logged is None or "0x" + logged.hex() != tx_hash.lower():
        return None
    for kind in EVENT_SHAPES:
        name = f"{chain_id}:0x{logged.hex()}:{log_index}:{int(kind)}"
        if event_id == "urn:uuid:" + str(uuid.uuid5(EVENT_ID_NAMESPACE, name)):
            return "0x" + logged.hex()
    return None


def already_recorded(conn: Connection, events: list[Any], *, chain_id: int) -> dict[int, str]:
    """Index -> transaction hash of each event of `events` the ledger already recorded."""
    found: dict[int, str] = {}
    for index, event in enumerate(events):
        tx = _recorded_tx(conn, event, chain_id)
        if tx is not None:
            found[index] = tx
    return found
