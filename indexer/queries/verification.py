"""The public verification path's own database access, kept off the per-request cost.

- `DirectSql`: one DB-API connection per API process, kept open, used straight (no pool
  checkout, no SQLAlchemy statement layer); each `snapshot()` is one read transaction, so a
  verdict never mixes two indexer commits. Statements are prepared once by the driver
  (sqlite3's statement cache, psycopg's `prepare=True`).
- `ScanLog`: scans are queued in memory and written by a background thread in one
  multi-row insert per `interval`, instead of one write transaction per request; `close()`
  (app shutdown, and at exit) writes what is left. Until a scan is written it is still seen
  by this process's `pending()`, so the two-places check does not miss it. On PostgreSQL
  the writers of every process take one transaction lock, so scan ids are committed in id
  order and the oversight feed's `id > after` (`api.oversight_feed`) skips none.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from indexer.db import Sql

__all__ = ["DirectSql", "Scan", "ScanLog"]

log = logging.getLogger(__name__)


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
class Scan:
    item_key: bytes
    scanned_at: int
    location: str
    scanner: str | None


_COLUMNS = ("item_key", "scanned_at", "location", "scanner")
# pg_advisory_xact_lock key of scan writers ("MLSCANS" in ASCII).
SCAN_WRITE_LOCK = 0x4D4C5343414E53


class ScanLog:
    """Verification scans written in batches by a background thread."""

    def __init__(self, engine: Engine, *, interval: float = 0.05) -> None:
        self._engine = engine
        self._interval = interval
        self._pending: list[Scan] = []
        self._lock = threading.Lock()  # guards _pending
        self._write_lock = threading.Lock()  # one writer at a time, rows in order
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def add(self, scan: Scan) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the scan log is closed")
            self._pending.append(scan)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="medledger-scan-log", daemon=True
                )
                self._thread.start()
                atexit.register(self.close)

    def pending(self, item_key: bytes, since: int) -> list[Scan]:
        """This process's scans of `item_key` since `since` that are not written yet."""
        with self._lock:
            return [s for s in self._pending if s.item_key == item_key and s.scanned_at >= since]

    def _run(self) -> None:
        wait = self._interval
        while not self._closed:
            self._wake.wait(wait)
            try:
                self.flush()
                wait = self._interval
            except Exception:  # the database is away: keep the rows, retry ever less often
                log.warning("writing verification scans failed; retrying", exc_info=True)
                wait = min(wait * 2, 5.0)

    def flush(self) -> int:
        """Write every queued scan now; return how many."""
        with self._write_lock:
            with self._lock:
                batch = self._pending[:]
            if not batch:
                return 0
            with self._engine.begin() as conn:
                sql = Sql(conn)
                if sql.is_pg:
                    sql.one("SELECT pg_advisory_xact_lock(?)", (SCAN_WRITE_LOCK,))
                sql.bulk_insert(
                    "verification_scans",
                    _COLUMNS,
                    ((s.item_key, s.scanned_at, s.location, s.scanner) for s in batch),
                )
            with self._lock:
                del self._pending[: len(batch)]
            return len(batch)

    def close(self) -> None:
        """Stop the writer and write what is left (clean shutdown loses no scan)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout=10)
        self.flush()
