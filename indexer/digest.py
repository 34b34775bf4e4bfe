"""Per-table content digests, to prove two databases hold the same projection (a crashed
and resumed index against a clean reindex) independently of how ranges were batched."""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection

from medledger.indexer.db import Sql

__all__ = ["DIGEST_QUERIES", "table_digests"]

# Each table in a canonical order. `blocks` only for blocks that carried logs: which empty
# blocks ended a range depends on batching, not on the chain.
DIGEST_QUERIES: dict[str, str] = {
    "organisations": "SELECT * FROM organisations ORDER BY id",
    "company_prefixes": "SELECT * FROM company_prefixes ORDER BY prefix",
    "sites": "SELECT * FROM sites ORDER BY gln",
    "licences": "SELECT * FROM licences ORDER BY organisation_id, kind",
    "products": "SELECT * FROM products ORDER BY gtin",
    "lots": "SELECT * FROM lots ORDER BY lot_index",
    "items": "SELECT id, item_key, is_container, lot_index, code, holder_id, status, parent_id "
    "FROM items ORDER BY id",
    "item_events": "SELECT * FROM item_events ORDER BY id",
    "lot_reach": "SELECT * FROM lot_reach ORDER BY lot_index, organisation_id",
    "shipments": "SELECT * FROM shipments ORDER BY id",
    "recalls": "SELECT * FROM recalls ORDER BY id",
    "documents": "SELECT * FROM documents ORDER BY document_hash",
    "adverse_events": "SELECT * FROM adverse_events ORDER BY id",
    "processed_logs": "SELECT * FROM processed_logs ORDER BY block_number, log_index",
    "blocks": "SELECT number, hash, timestamp FROM blocks WHERE number IN "
    "(SELECT block_number FROM processed_logs) ORDER BY number",
    "cursor": "SELECT block_number, block_hash FROM cursor",
    "package_levels": "SELECT * FROM package_levels ORDER BY package_gtin",
    "product_master_versions": "SELECT * FROM product_master_versions ORDER BY gtin, version",
    "lot_events": "SELECT * FROM lot_events ORDER BY block_number, log_index, lot_index, kind",
    # Without seq: a rewind never gives a seq again, so a rewound index has other seqs.
    # Only the chain's events: the API's derived alerts (no block) are not a reindex's.
    "ledger_events": "SELECT e.kind, e.occurred_at, e.block_number, e.tx_hash, e.log_index, "
    "e.gtin, e.lot, e.shipment_id, e.counterparty, e.location, e.dedupe_key, e.data, "
    "(SELECT COUNT(*) FROM ledger_event_audience a WHERE a.seq = e.seq) "
    "FROM ledger_events e WHERE e.block_number IS NOT NULL "
    "ORDER BY e.block_number, e.log_index, e.kind",
}


def _canon(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex()
    if isinstance(value, bool):
        return str(int(value))
    return repr(value)


def table_digests(conn: Connection) -> dict[str, str]:
    """SHA-256 over each table's rows in canonical order, with its row count."""
    sql = Sql(conn)
    out: dict[str, str] = {}
    for table, query in DIGEST_QUERIES.items():
        h = hashlib.sha256()
        count = 0
        for row in sql.rows(query):
            h.update("|".join(_canon(v) for v in row).encode())
            h.update(b"\n")
            count += 1
        out[table] = f"{count}:{h.hexdigest()[:16]}"
    return out
