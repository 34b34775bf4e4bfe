"""The public verification path's reads, kept off the per-request cost.

- `DirectSql`: one DB-API connection per API process, kept open, used straight (no pool
  checkout, no SQLAlchemy statement layer); each `snapshot()` is one read transaction, so a
  verdict never mixes two indexer commits. Statements are prepared once by the driver
  (sqlite3's statement cache, psycopg's `prepare=True`).
- the typed reads a verdict rests on (`unit_facts`, `unit_steps`, `product_facts`,
  `lot_exists`, `member_status`, `newest_block_time`), each over any `Reader`: a
  `DirectSql` snapshot or an `indexer.db.Sql`.

The scans themselves (the log, its writer, the anomaly reads) are `indexer.queries.scans`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, Protocol

from sqlalchemy import Engine

from medledger.indexer.items import EventKind
from medledger.sdk.model import ItemStatus, MemberStatus

__all__ = [
    "DirectSql",
    "LotFactsRow",
    "LotRow",
    "ProductRow",
    "Reader",
    "RecallRow",
    "StepRow",
    "UnitFacts",
    "lot_exists",
    "lot_facts",
    "member_status",
    "newest_block_time",
    "product_facts",
    "unit_facts",
    "unit_steps",
]

log = logging.getLogger(__name__)


class Reader(Protocol):
    """`?`-placeholder SQL reads (`indexer.db.Sql`, `DirectSql`)."""

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class DirectSql:
    """`?`-placeholder SQL on one long-lived connection of `engine` (SQLite or PostgreSQL).

    Thread-safe: a lock serialises snapshots, which take well under a millisecond. A broken
    connection (database restarted) is replaced on the next snapshot."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._is_pg = engine.dialect.name == "postgresql"
        self._lock = threading.Lock()
        self._texts: dict[str, str] = {}
        self._raw: Any = None
        self._driver: Any = None

    def _connection(self) -> Any:
        if self._driver is None:
            self._raw = self._engine.raw_connection()
            self._driver = self._raw.driver_connection
        return self._driver

    def _text(self, sql: str) -> str:
        text = self._texts.get(sql)
        if text is None:
            text = self._texts[sql] = sql.replace("?", "%s") if self._is_pg else sql
        return text

    @contextmanager
    def snapshot(self) -> Iterator[DirectSql]:
        """One consistent read of the indexer's tables."""
        with self._lock:
            driver = self._connection()
            try:
                if not self._is_pg:  # pysqlite runs in autocommit mode here (indexer.db)
                    driver.execute("BEGIN")
                yield self
            finally:
                try:
                    if self._is_pg:
                        driver.rollback()
                    else:
                        driver.execute("ROLLBACK")
                except Exception:
                    self._discard()

    def _discard(self) -> None:
        raw, self._raw, self._driver = self._raw, None, None
        if raw is not None:
            try:
                raw.invalidate()
            except Exception:  # already broken; the pool forgets it either way
                log.debug("discarding a broken verification connection", exc_info=True)

    def execute(self, sql: str, params: Sequence[Any]) -> Any:
        """Run one `?`-placeholder statement inside `snapshot()`; the DB-API cursor."""
        driver = self._driver
        if self._is_pg:
            return driver.execute(self._text(sql), tuple(params), prepare=True)
        return driver.execute(sql, tuple(params))

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.execute(sql, params).fetchall()]

    def close(self) -> None:
        with self._lock:
            if self._raw is not None:
                self._raw.close()
            self._raw = self._driver = None


@dataclass(frozen=True, slots=True)
class ProductRow:
    gtin: str
    device_class: int
    certificate_hash: bytes
    registration_expiry: int  # unix seconds
    manufacturer: str  # the manufacturer's name
    manufacturer_address: str


@dataclass(frozen=True, slots=True)
class LotRow:
    lot_number: str
    production_date: int  # unix seconds
    expiry: int  # unix seconds
    active_recall: int  # the open recall's id, 0 when none


@dataclass(frozen=True, slots=True)
class RecallRow:
    """The lot's open recall and the chain reference of its opening (indexed since
    migration 0003: older recalls have none)."""

    level: int | None
    opened_block: int | None
    opened_tx_hash: bytes | None
    opened_log_index: int | None
    opened_at: int | None


@dataclass(frozen=True, slots=True)
class UnitFacts:
    """A unit (or container) with its lot, product, manufacturer and the lot's open recall;
    `lot` and `product` are None for a container."""

    item_id: int
    is_container: bool
    status: ItemStatus
    lot: LotRow | None
    product: ProductRow | None
    recall: RecallRow | None


@dataclass(frozen=True, slots=True)
class StepRow:
    """One step of a unit's history, as a verdict cites it."""

    kind: EventKind
    block_number: int
    timestamp: int
    tx_hash: bytes
    log_index: int


_FACTS: Final = (
    "SELECT i.id, i.is_container, i.status, l.lot_number, l.production_date, l.expiry, "
    "l.active_recall, p.gtin, p.device_class, p.certificate_hash, p.registration_expiry, "
    "o.name, o.address, r.level, r.opened_block, r.opened_tx_hash, r.opened_log_index, "
    "rb.timestamp FROM items i "
    "LEFT JOIN lots l ON l.lot_index = i.lot_index "
    "LEFT JOIN products p ON p.gtin = l.gtin "
    "LEFT JOIN organisations o ON o.id = p.manufacturer_id "
    "LEFT JOIN recalls r ON r.id = l.active_recall "
    "LEFT JOIN blocks rb ON rb.number = r.opened_block "
    "WHERE i.item_key = ?"
)
_STEPS: Final = (
    "SELECT e.kind, e.block_number, b.timestamp, l.tx_hash, e.log_index FROM item_events e "
    "JOIN blocks b ON b.number = e.block_number "
    "JOIN processed_logs l ON l.block_number = e.block_number AND l.log_index = e.log_index "
    "WHERE e.item_id = ? ORDER BY e.block_number, e.log_index"
)
_PRODUCT: Final = (
    "SELECT p.gtin, p.device_class, p.certificate_hash, p.registration_expiry, o.name, "
    "o.address FROM products p JOIN organisations o ON o.id = p.manufacturer_id WHERE p.gtin = ?"
)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _product_row(
    gtin: Any, device_class: Any, cert: Any, reg_expiry: Any, name: Any, address: Any
) -> ProductRow:
    return ProductRow(
        str(gtin), int(device_class), bytes(cert), int(reg_expiry), str(name), str(address)
    )


def _recall_row(
    recall_id: Any, level: Any, block: Any, tx: Any, log_index: Any, opened_at: Any
) -> RecallRow | None:
    if not recall_id:
        return None
    return RecallRow(
        _int(level), _int(block), None if tx is None else bytes(tx), _int(log_index),
        _int(opened_at),
    )  # fmt: skip


def unit_facts(sql: Reader, item_key: bytes) -> UnitFacts | None:
    """The unit `item_key` with its lot, product and open recall; None if never registered."""
    rows = sql.rows(_FACTS, (item_key,))
    if not rows:
        return None
    (item_id, is_container, status, lot_number, produced, expiry, recall_id, gtin,
     device_class, cert, reg_expiry, name, address, level, block, tx, log_index, opened_at,
     ) = rows[0]  # fmt: skip
    lot = product = None
    if gtin is not None:
        lot = LotRow(str(lot_number), int(produced), int(expiry), int(recall_id or 0))
        product = _product_row(gtin, device_class, cert, reg_expiry, name, address)
    recall = _recall_row(recall_id, level, block, tx, log_index, opened_at)
    status_ = ItemStatus(int(status))
    return UnitFacts(int(item_id), bool(is_container), status_, lot, product, recall)


def unit_steps(sql: Reader, item_id: int) -> list[StepRow]:
    """The unit's steps (row id `item_id`), oldest first."""
    return [
        StepRow(EventKind(int(k)), int(b), int(t), bytes(tx), int(i))
        for k, b, t, tx, i in sql.rows(_STEPS, (item_id,))
    ]


def product_facts(sql: Reader, gtin: str) -> ProductRow | None:
    rows = sql.rows(_PRODUCT, (gtin,))
    return _product_row(*rows[0]) if rows else None


@dataclass(frozen=True, slots=True)
class LotFactsRow:
    """A lot with its product, manufacturer, open recall and the block that registered it."""

    lot: LotRow
    product: ProductRow
    recall: RecallRow | None
    registered_block: int
    registered_at: int | None


_LOT_FACTS: Final = (
    "SELECT l.lot_number, l.production_date, l.expiry, l.active_recall, p.gtin, "
    "p.device_class, p.certificate_hash, p.registration_expiry, o.name, o.address, r.level, "
    "r.opened_block, r.opened_tx_hash, r.opened_log_index, rb.timestamp, l.block_number, "
    "lb.timestamp FROM lots l "
    "JOIN products p ON p.gtin = l.gtin "
    "JOIN organisations o ON o.id = p.manufacturer_id "
    "LEFT JOIN recalls r ON r.id = l.active_recall "
    "LEFT JOIN blocks rb ON rb.number = r.opened_block "
    "LEFT JOIN blocks lb ON lb.number = l.block_number "
    "WHERE l.lot_key = ?"
)


def lot_facts(sql: Reader, lot_key: bytes) -> LotFactsRow | None:
    """The lot `lot_key` with its product and open recall; None if never registered."""
    rows = sql.rows(_LOT_FACTS, (lot_key,))
    if not rows:
        return None
    (lot_number, produced, expiry, recall_id, gtin, device_class, cert, reg_expiry, name,
     address, level, block, tx, log_index, opened_at, registered_block, registered_at,
     ) = rows[0]  # fmt: skip
    recall = _recall_row(recall_id, level, block, tx, log_index, opened_at)
    return LotFactsRow(
        LotRow(str(lot_number), int(produced), int(expiry), int(recall_id or 0)),
        _product_row(gtin, device_class, cert, reg_expiry, name, address),
        recall,
        int(registered_block),
        _int(registered_at),
    )


def lot_exists(sql: Reader, lot_key: bytes) -> bool:
    return sql.one("SELECT 1 FROM lots WHERE lot_key = ?", (lot_key,)) is not None


def member_status(sql: Reader, address: str) -> MemberStatus | None:
    """The member's status, None for an address that never was a member."""
    status = sql.one("SELECT status FROM organisations WHERE address = ?", (address,))
    return None if status is None else MemberStatus(int(status))


def newest_block_time(sql: Reader) -> int | None:
    """The time of the newest indexed block, None before the first."""
    newest = sql.one("SELECT timestamp FROM blocks WHERE number = (SELECT MAX(number) FROM blocks)")
    return _int(newest)
