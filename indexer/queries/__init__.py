"""The query layer shared by the API: plain functions over a SQLAlchemy connection with
typed (dataclass) results, each on an index path checked with EXPLAIN in the tests."""

from __future__ import annotations

from medledger.indexer.queries.scans import (
    ScanPair,
    UsedUnitScan,
    member_scan_pairs,
    record_scan,
    used_unit_scans,
)
from medledger.indexer.queries.stock import (
    ExpiringLine,
    InventoryLine,
    expiring_stock,
    inventory,
)
from medledger.indexer.queries.trace import (
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
    "ScanPair",
    "UsedUnitScan",
    "container_contents",
    "containers_holding",
    "expiring_stock",
    "inventory",
    "item_facts",
    "lot_trace",
    "member_scan_pairs",
    "recall_scope",
    "record_scan",
    "unit_history",
    "used_unit_scans",
]
