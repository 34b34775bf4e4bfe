"""What the end-of-soak checks (`ops.soak_checks`) read from a reindexed database: every
item as the projection holds it, to compare with the contract's own view."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from medledger.indexer.db import Sql
from medledger.sdk.model import ItemStatus

__all__ = ["IndexedItem", "every_item"]


@dataclass(frozen=True, slots=True)
class IndexedItem:
    item_key: bytes
    is_container: bool
    status: ItemStatus
    holder: str
    parent: bytes | None  # the container holding it


def every_item(conn: Connection) -> list[IndexedItem]:
    """Every item the read model holds (a full scan: the soak checks them all)."""
    rows = Sql(conn).rows(
        "SELECT i.item_key, i.is_container, i.status, o.address, p.item_key "
        "FROM items i JOIN organisations o ON o.id = i.holder_id "
        "LEFT JOIN items p ON p.id = i.parent_id"
    )
    return [
        IndexedItem(
            item_key=bytes(key),
            is_container=bool(is_container),
            status=ItemStatus(status),
            holder=str(holder),
            parent=None if parent is None else bytes(parent),
        )
        for key, is_container, status, holder, parent in rows
    ]
