"""Small-table writes with an undo log: every insert or update of a row in the slowly
changing tables (organisations, licences, products, lots, shipments, recalls, ...) first
records the row's prior value, so a reorg rewind can put it back exactly."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import SQLModel

import medledger.indexer.models  # noqa: F401  (table metadata for full-row undo records)
from medledger.indexer.db import Sql

__all__ = ["UndoWriter", "rewind_undo"]


def _enc(value: Any) -> Any:
    return {"b": value.hex()} if isinstance(value, bytes | bytearray | memoryview) else value


def _dec(value: Any) -> Any:
    return bytes.fromhex(value["b"]) if isinstance(value, dict) else value


def _dumps(row: Mapping[str, Any]) -> str:
    return json.dumps({k: _enc(v) for k, v in row.items()}, sort_keys=True)


def _loads(text: str) -> dict[str, Any]:
    return {k: _dec(v) for k, v in json.loads(text).items()}


class UndoWriter:
    """Small-table writes with undo records. Rows touched in this batch are cached, so an
    update after an insert needs no SELECT; undo records are written in bulk by `flush`."""

    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        self.next_id = int(sql.one("SELECT COALESCE(MAX(id), 0) FROM undo_log")) + 1
        self._pending: list[tuple[int, int, str, str, str | None]] = []
        self._rows: dict[tuple[str, str], dict[str, Any]] = {}

    def _log(self, block: int, table: str, key: Mapping[str, Any], old: str | None) -> None:
        self._pending.append((self.next_id, block, table, _dumps(key), old))
        self.next_id += 1

    def flush(self) -> None:
        self.sql.bulk_insert(
            "undo_log", ("id", "block_number", "table_name", "key_json", "old_json"), self._pending
        )
        self._pending = []

    def select(self, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        cached = self._rows.get((table, _dumps(key)))
        if cached is not None:
            return dict(cached)
        where = " AND ".join(f"{k} = ?" for k in key)
        result = self.sql.conn.exec_driver_sql(
            self.sql._q(f"SELECT * FROM {table} WHERE {where}"), tuple(key.values())
        )
        row = result.mappings().first()
        return None if row is None else dict(row)

    def insert(self, block: int, table: str, row: Mapping[str, Any], key: Sequence[str]) -> None:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.sql.run(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(row.values()))
        keys = {k: row[k] for k in key}
        full = dict.fromkeys(SQLModel.metadata.tables[table].columns.keys())
        full.update(row)
        self._rows[(table, _dumps(keys))] = full
        self._log(block, table, keys, None)

    def update(
        self, block: int, table: str, key: Mapping[str, Any], values: Mapping[str, Any]
    ) -> bool:
        """Update one row; False if it does not exist."""
        old = self.select(table, key)
        if old is None:
            return False
        sets = ", ".join(f"{k} = ?" for k in values)
        where = " AND ".join(f"{k} = ?" for k in key)
        self.sql.run(f"UPDATE {table} SET {sets} WHERE {where}", (*values.values(), *key.values()))
        self._rows[(table, _dumps(key))] = {**old, **values}
        self._log(block, table, key, _dumps(old))
        return True

    def upsert(self, block: int, table: str, row: Mapping[str, Any], key: Sequence[str]) -> None:
        keys = {k: row[k] for k in key}
        if not self.update(block, table, keys, {k: v for k, v in row.items() if k not in key}):
            self.insert(block, table, row, key)


def rewind_undo(sql: Sql, ancestor: int) -> int:
    """Undo every small-table change made above block `ancestor`, newest first."""
    entries = sql.rows(
        "SELECT table_name, key_json, old_json FROM undo_log WHERE block_number > ? "
        "ORDER BY id DESC",
        (ancestor,),
    )
    for table, key_json, old_json in entries:
        key = _loads(key_json)
        where = " AND ".join(f"{k} = ?" for k in key)
        sql.run(f"DELETE FROM {table} WHERE {where}", tuple(key.values()))
        if old_json is not None:
            old = _loads(old_json)
            cols = ", ".join(old)
            marks = ", ".join("?" for _ in old)
            sql.run(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(old.values()))
    sql.run("DELETE FROM undo_log WHERE block_number > ?", (ancestor,))
    return len(entries)
