"""The trace explorer's views: what a typed or scanned code names (a unit, a case or pallet,
or a lot), its custody timeline, the organisations it passed through, and the chain
transaction behind each step.

Reads go through the indexer's queries (`indexer.queries`) and the object-level rules of
`domain.trace` (`ensure_item_visible` / `ensure_lot_visible`): the regulator sees
everything, a partner only what it holds or has held. `chain_tx` reads a transaction, its
block and its decoded events from the chain itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection
from web3.exceptions import TransactionNotFound

from medledger.domain.errors import NotFound
from medledger.domain.services import Services
from medledger.domain.trace import TraceScope, ensure_item_visible, ensure_lot_visible, item_key_of
from medledger.indexer.queries import (
    HistoryStep,
    ItemFacts,
    LotTrace,
    PackedItem,
    container_contents,
    containers_holding,
    item_facts,
    lot_trace,
    unit_history,
)
from medledger.indexer.queries.counterparties import names_of
from medledger.indexer.queries.shipments import shipment_parties
from medledger.portal.trace_graph import OrgGraph, org_graph
from medledger.sdk.abi import DecodedEvent
from medledger.sdk.deploy import CONTRACT_NAMES
from medledger.sdk.gs1 import parse_code

__all__ = ["ChainTx", "ItemTrace", "LotView", "chain_tx", "explore"]

CONTENTS_SHOWN = 200


@dataclass(frozen=True, slots=True)
class ItemTrace:
    """A unit or container: its facts, every custody step and the organisation graph."""

    item_key: bytes
    facts: ItemFacts
    steps: list[HistoryStep]
    names: dict[str, str]  # holder address -> organisation name
    graph: OrgGraph
    containers: list[bytes]  # the containers it sits in, innermost first
    contents: list[PackedItem] = field(default_factory=list)  # at most CONTENTS_SHOWN
    contents_total: int = 0


@dataclass(frozen=True, slots=True)
class LotView:
    trace: LotTrace


def item_trace(conn: Connection, key: bytes, scope: TraceScope) -> ItemTrace:
    ensure_item_visible(conn, key, scope)
    facts = item_facts(conn, key)
    assert facts is not None  # ensure_item_visible found it
    steps = unit_history(conn, key)
    names = names_of(conn, {s.holder for s in steps})
    shipments = {s.shipment_id for s in steps if s.shipment_id is not None}
    graph = org_graph(steps, parties=shipment_parties(conn, shipments), names=names)
    contents = container_contents(conn, key) if facts.is_container else []
    return ItemTrace(
        key,
        facts,
        steps,
        names,
        graph,
        containers_holding(conn, key),
        contents[:CONTENTS_SHOWN],
        len(contents),
    )


def explore(conn: Connection, text: str, scope: TraceScope) -> ItemTrace | LotView:
    """What `text` names: an item id (0x + 64 hex) or any GS1 form of a unit, an SSCC, or
    a GTIN with a lot and no serial (a lot). Gs1Error for a malformed code, NotFound for
    what is not on the ledger or not visible to `scope`."""
    text = text.strip()
    if not text.startswith("0x"):
        udi = parse_code(text)
        if udi.gtin is not None and udi.serial is None and udi.lot_key is not None:
            trace = lot_trace(conn, udi.lot_key)
            what = f"lot {udi.lot!r} of GTIN {udi.gtin}"
            if trace is None:
                raise NotFound("unknown_lot", f"no {what} on the ledger")
            ensure_lot_visible(conn, trace.lot_index, scope, what)
            return LotView(trace)
    return item_trace(conn, item_key_of(text), scope)


@dataclass(frozen=True, slots=True)
class ChainTx:
    tx_hash: bytes
    block_number: int
    block_hash: bytes
    timestamp: int
    sender: str
    contract: str  # our contract's name, or the address called
    succeeded: bool
    events: list[DecodedEvent]


def _contract_name(services: Services, to: str | None) -> str:
    if to is None:
        return "-"
    for name in CONTRACT_NAMES:
        if services.deployment.address_of(name).lower() == to.lower():
            return name
    return to


def chain_tx(services: Services, tx_hash: bytes) -> ChainTx:
    """A transaction as the chain reports it (404 `unknown_transaction` if it has none)."""
    w3 = services.w3
    try:
        receipt: Any = w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    except TransactionNotFound as exc:
        raise NotFound("unknown_transaction", f"no transaction 0x{tx_hash.hex()}") from exc
    block = w3.eth.get_block(receipt["blockNumber"])
    return ChainTx(
        tx_hash,
        int(receipt["blockNumber"]),
        bytes(receipt["blockHash"]),
        int(block["timestamp"]),
        str(receipt["from"]),
        _contract_name(services, receipt.get("to")),
        int(receipt["status"]) == 1,
        services.codec.decode_logs(receipt["logs"]),
    )
