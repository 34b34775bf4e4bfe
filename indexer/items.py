"""Item state in memory for one batch: loads the items a batch touches (and every
descendant of a touched container) from SQL, applies custody events, and flushes the
changed rows and the expanded `item_events` rows back in bulk."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import IntEnum

from medledger.indexer.db import Sql

__all__ = ["EventKind", "ItemCache", "ItemRow"]

CHUNK = 900
ITEM_COLUMNS = "id, item_key, is_container, lot_index, code, holder_id, status, parent_id"
EVENT_COLUMNS = (
    "id",
    "item_id",
    "block_number",
    "log_index",
    "kind",
    "holder_id",
    "status",
    "parent_id",
    "via_id",
    "shipment_id",
)


class EventKind(IntEnum):
    """What happened to an item; stored in `item_events.kind`."""

    COMMISSIONED = 1
    CONTAINER_CREATED = 2
    PACKED = 3
    UNPACKED = 4
    SHIPPED = 5
    RECEIVED = 6
    REJECTED = 7
    CANCELLED = 8
    DISPENSED = 9
    QUARANTINED = 10
    RELEASED = 11
    DESTROYED = 12


class ItemRow:
    __slots__ = (
        "children",
        "code",
        "holder",
        "id",
        "is_container",
        "is_new",
        "key",
        "lot_index",
        "parent",
        "status",
    )

    def __init__(
        self,
        id: int,
        key: bytes,
        is_container: bool,
        lot_index: int | None,
        code: str,
        holder: int,
        status: int,
        parent: int | None,
        *,
        is_new: bool = False,
    ) -> None:
        self.id = id
        self.key = key
        self.is_container = is_container
        self.lot_index = lot_index
        self.code = code
        self.holder = holder
        self.status = status
        self.parent = parent
        self.children: list[int] | None = [] if is_container else None
        self.is_new = is_new


class ItemCache:
    """The batch's working set of items, keyed by chain id and by surrogate id."""

    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        self.by_key: dict[bytes, ItemRow] = {}
        self.by_id: dict[int, ItemRow] = {}
        self.dirty: set[int] = set()
        self.events: list[tuple[object, ...]] = []
        self.reach: dict[tuple[int, int], int] = {}
        self.next_id = int(sql.one("SELECT COALESCE(MAX(id), 0) FROM items")) + 1
        self.next_event_id = int(sql.one("SELECT COALESCE(MAX(id), 0) FROM item_events")) + 1

    # ------------------------------------------------------------ loading

    def load(self, keys: Iterable[bytes]) -> None:
        """Load the rows for `keys` and, recursively, every descendant of those containers."""
        wanted = [k for k in set(keys) if k not in self.by_key]
        containers: list[int] = []
        for chunk in _chunks(wanted):
            marks = ",".join("?" * len(chunk))
            for row in self.sql.rows(
                f"SELECT {ITEM_COLUMNS} FROM items WHERE item_key IN ({marks})", chunk
            ):
                item = self._add(row)
                if item.is_container:
                    containers.append(item.id)
        while containers:
            found: list[int] = []
            for chunk in _chunks(containers):
                marks = ",".join("?" * len(chunk))
                for row in self.sql.rows(
                    f"SELECT {ITEM_COLUMNS} FROM items WHERE parent_id IN ({marks})", chunk
                ):
                    parent = self.by_id[int(row[7])]
                    assert parent.children is not None
                    parent.children.append(int(row[0]))
                    if row[0] in self.by_id:
                        continue  # also named by the batch, and already queued if a container
                    item = self._add(row)
                    if item.is_container:
                        found.append(item.id)
            containers = found

    def _add(self, row: tuple[object, ...]) -> ItemRow:
        id_, key, is_container, lot_index, code, holder, status, parent = row
        item = ItemRow(
            int(id_),  # type: ignore[call-overload]
            bytes(key),  # type: ignore[call-overload]
            bool(is_container),
            None if lot_index is None else int(lot_index),  # type: ignore[call-overload]
            str(code),
            int(holder),  # type: ignore[call-overload]
            int(status),  # type: ignore[call-overload]
            None if parent is None else int(parent),  # type: ignore[call-overload]
        )
        self.by_key[item.key] = item
        self.by_id[item.id] = item
        return item

    # ------------------------------------------------------------ changes

    def get(self, key: bytes) -> ItemRow:
        item = self.by_key.get(key)
        if item is None:
            raise KeyError(f"unknown item 0x{key.hex()}")
        return item

    def create(
        self, key: bytes, *, is_container: bool, lot_index: int | None, code: str, holder: int
    ) -> ItemRow:
        item = ItemRow(
            self.next_id, key, is_container, lot_index, code, holder, 1, None, is_new=True
        )
        self.next_id += 1
        self.by_key[key] = item
        self.by_id[item.id] = item
        self.dirty.add(item.id)
        return item

    def subtree(self, item: ItemRow) -> Iterator[ItemRow]:
        """The item and every item packed inside it, depth first in id order (the order
        fixes the event rows' ids, so it must not depend on how ranges were batched)."""
        stack = [item]
        while stack:
            node = stack.pop()
            yield node
            if node.children:
                stack.extend(self.by_id[c] for c in sorted(node.children, reverse=True))

    def record(
        self,
        item: ItemRow,
        kind: EventKind,
        block: int,
        log_index: int,
        *,
        via: int | None = None,
        shipment: int | None = None,
    ) -> None:
        """Append the item's event row (with its state after the event) and mark it dirty."""
        self.events.append(
            (
                self.next_event_id,
                item.id,
                block,
                log_index,
                int(kind),
                item.holder,
                item.status,
                item.parent,
                via,
                shipment,
            )
        )
        self.next_event_id += 1
        self.dirty.add(item.id)
        if item.lot_index is not None:
            self.reach.setdefault((item.lot_index, item.holder), block)

    # ------------------------------------------------------------ flushing

    def flush(self, block: int) -> int:
        """Write the changed items and the event rows; return the number of event rows."""
        rows = [self.by_id[i] for i in sorted(self.dirty)]
        new = [r for r in rows if r.is_new]
        old = [r for r in rows if not r.is_new]
        self.sql.bulk_insert(
            "items",
            (
                "id",
                "item_key",
                "is_container",
                "lot_index",
                "code",
                "holder_id",
                "status",
                "parent_id",
                "updated_block",
            ),
            (
                (
                    r.id,
                    r.key,
                    r.is_container,
                    r.lot_index,
                    r.code,
                    r.holder,
                    r.status,
                    r.parent,
                    block,
                )
                for r in new
            ),
        )
        self.sql.many(
            "UPDATE items SET holder_id = ?, status = ?, parent_id = ?, updated_block = ? "
            "WHERE id = ?",
            [(r.holder, r.status, r.parent, block, r.id) for r in old],
        )
        self.sql.bulk_insert("item_events", EVENT_COLUMNS, self.events)
        self.sql.many(
            "INSERT INTO lot_reach (lot_index, organisation_id, first_block) VALUES (?, ?, ?) "
            "ON CONFLICT (lot_index, organisation_id) DO NOTHING",
            [(lot, org, b) for (lot, org), b in self.reach.items()],
        )
        count = len(self.events)
        for r in new:
            r.is_new = False
        self.dirty.clear()
        self.events = []
        self.reach = {}
        return count


def _chunks(values: list[int] | list[bytes]) -> Iterator[list[object]]:
    for i in range(0, len(values), CHUNK):
        yield list(values[i : i + CHUNK])
