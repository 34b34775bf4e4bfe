"""What a bulk import checks against the read model before it writes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

__all__ = ["existing_items"]

_BATCH = 500  # keys per IN list


def existing_items(conn: Connection, item_keys: Sequence[bytes]) -> set[bytes]:
    """The keys among `item_keys` of items already on the ledger (any lot, any holder)."""
    found: set[bytes] = set()
    query = text("SELECT item_key FROM items WHERE item_key IN :keys").bindparams(
        bindparam("keys", expanding=True)
    )
    for start in range(0, len(item_keys), _BATCH):
        rows = conn.execute(query, {"keys": list(item_keys[start : start + _BATCH])}).all()
        found.update(bytes(r.item_key) for r in rows)
    return found
