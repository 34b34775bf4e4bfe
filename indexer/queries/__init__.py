"""The query layer shared by the API: plain functions over a SQLAlchemy connection with
typed (dataclass) results, each on an index path checked with EXPLAIN in the tests."""

from __future__ import annotations

from indexer.queries.stock import (
    ExpiringLine,
    InventoryLine,
    ScanAnomaly,
    expiring_stock,
    inventory,
    record_scan,
    scan_anomalies,
)
from indexer.queries.trace import (
    HistoryStep,
    HolderCount,
    ItemFacts,
    LotTrace,
    OrgRef,
    PackedItem,
    RecallHolder,
    RecallScope,
    container_contents,
    containers_holding,
    item_facts,
    lot_trace,
    recall_scope,
    unit_history,
)

__all__ = [
    "ExpiringLine",
    "HistoryStep",
    "HolderCount",
    "InventoryLine",
    "ItemFacts",
    "LotTrace",
    "OrgRef",
    "PackedItem",
    "RecallHolder",
    "RecallScope",
    "ScanAnomaly",
    "container_contents",
    "containers_holding",
    "expiring_stock",
    "inventory",
    "item_facts",
    "lot_trace",
    "recall_scope",
    "record_scan",
    "scan_anomalies",
    "unit_history",
]
