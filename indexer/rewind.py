"""Reorg handling: find the newest block the indexer wrote that is still on the chain, and
rewind every table to it in one transaction.

`items` is restored from the surviving `item_events` (each row holds the item's state
after the event); small tables are restored from the undo log; append-only tables lose
their rows above the ancestor, the event outbox (`ledger_events`) too, so no event of a
dropped block is delivered after the rewind.
"""

from __future__ import annotations

from medledger.indexer.db import Sql
from medledger.indexer.errors import ReorgTooDeepError
from medledger.indexer.items import CHUNK
from medledger.indexer.outbox import rewind_events
from medledger.indexer.source import LogSource
from medledger.indexer.undo import rewind_undo

__all__ = ["find_ancestor", "rewind_to"]


def find_ancestor(sql: Sql, source: LogSource, *, cursor: int, head: int, undo_blocks: int) -> int:
    """The highest written block (at most `head`) whose hash still matches the chain, -1 if
    none; undo records only reach `undo_blocks` below the cursor."""
    floor = cursor - undo_blocks
    for number, stored in sql.rows(
        "SELECT number, hash FROM blocks WHERE number <= ? ORDER BY number DESC",
        (min(cursor, head),),
    ):
        if number < floor:
            raise ReorgTooDeepError(
                f"the chain changed below block {floor}, deeper than the {undo_blocks} blocks "
                "of undo history kept; reindex from scratch"
            )
        if source.block(int(number)).hash == bytes(stored):
            return int(number)
    return -1


def rewind_to(sql: Sql, ancestor: int) -> None:
    """Delete or restore everything written above block `ancestor`; set the cursor to it."""
    first = sql.one("SELECT MIN(first_event_id) FROM blocks WHERE number > ?", (ancestor,))
    if first is not None:
        affected = [
            int(r[0])
            for r in sql.rows("SELECT DISTINCT item_id FROM item_events WHERE id >= ?", (first,))
        ]
        sql.run("DELETE FROM item_events WHERE id >= ?", (first,))
        _restore_items(sql, affected)
    sql.run("DELETE FROM lot_reach WHERE first_block > ?", (ancestor,))
    sql.run("DELETE FROM processed_logs WHERE block_number > ?", (ancestor,))
    rewind_events(sql, ancestor)
    rewind_undo(sql, ancestor)
    sql.run("DELETE FROM blocks WHERE number > ?", (ancestor,))
    row = sql.rows("SELECT number, hash FROM blocks WHERE number = ?", (ancestor,))
    if row:
        sql.run(
            "UPDATE cursor SET block_number = ?, block_hash = ? WHERE id = 1",
            (ancestor, row[0][1]),
        )
    else:
        sql.run("DELETE FROM cursor")


def _restore_items(sql: Sql, item_ids: list[int]) -> None:
    """Set each item to its state after its last surviving event, or delete it."""
    for i in range(0, len(item_ids), CHUNK):
        chunk = item_ids[i : i + CHUNK]
        marks = ",".join("?" * len(chunk))
        latest = sql.rows(
            "SELECT e.item_id, e.holder_id, e.status, e.parent_id, e.block_number "
            f"FROM item_events e WHERE e.item_id IN ({marks}) AND e.id = "
            "(SELECT MAX(x.id) FROM item_events x WHERE x.item_id = e.item_id)",
            chunk,
        )
        survivors = {int(r[0]) for r in latest}
        sql.many(
            "UPDATE items SET holder_id = ?, status = ?, parent_id = ?, updated_block = ? "
            "WHERE id = ?",
            [(r[1], r[2], r[3], r[4], r[0]) for r in latest],
        )
        gone = [(x,) for x in chunk if x not in survivors]
        sql.many("DELETE FROM items WHERE id = ?", gone)
