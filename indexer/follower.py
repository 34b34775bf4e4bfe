"""The indexer process: hold the writer lock, migrate, then follow the chain range by
range, writing each range with its cursor in one transaction and rewinding on reorgs."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from medledger.indexer.config import Settings
from medledger.indexer.db import Sql, make_engine, migrate
from medledger.indexer.decode import LogDecoder
from medledger.indexer.errors import SourceError
from medledger.indexer.lock import WriterLock
from medledger.indexer.projector import Projector
from medledger.indexer.rewind import find_ancestor, rewind_to
from medledger.indexer.source import BlockRef, LogSource, NewHeads
from medledger.sdk.abi import as_bytes, as_int
from medledger.sdk.deploy import CONTRACT_NAMES, Deployment

__all__ = ["Indexer", "SyncResult"]


@dataclass(frozen=True, slots=True)
class SyncResult:
    from_block: int
    to_block: int
    logs: int
    item_events: int
    rewound_to: int | None = None


class Indexer:
    """Follows `source` for the contracts of `deployment` into the database of `settings`.

    Use as a context manager (takes the writer lock and migrates), then call `sync_once`
    or `run`.
    """

    def __init__(
        self,
        settings: Settings,
        source: LogSource,
        deployment: Deployment,
        *,
        decoder: LogDecoder | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.settings = settings
        self.source = source
        self.deployment = deployment
        self.decoder = decoder or LogDecoder()
        self._owns_engine = engine is None
        self.engine = engine or make_engine(settings.db_url, writer=True)
        self.addresses = [deployment.address_of(n) for n in CONTRACT_NAMES]
        self._lock = WriterLock(settings, self.engine)
        self._unanalyzed = 0

    def __enter__(self) -> Indexer:
        try:
            self._lock.acquire()
        except BaseException:
            if self._owns_engine:
                self.engine.dispose()
            raise
        try:
            migrate(self.engine)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
        if self._owns_engine:
            self.engine.dispose()

    def cursor(self) -> tuple[int, bytes] | None:
        with self.engine.connect() as conn:
            rows = Sql(conn).rows("SELECT block_number, block_hash FROM cursor WHERE id = 1")
        return (int(rows[0][0]), bytes(rows[0][1])) if rows else None

    def _start_block(self) -> int:
        return max(self.settings.start_block, self.deployment.deployed_at_block)

    def check_reorg(self) -> int | None:
        """Rewind if the cursor's block hash changed, or the chain is now shorter than the
        cursor; return the ancestor rewound to."""
        current = self.cursor()
        if current is None:
            return None
        number, stored = current
        head = self.source.head()
        if number <= head and self.source.block(number).hash == stored:
            return None
        with self.engine.begin() as conn:
            sql = Sql(conn)
            ancestor = find_ancestor(
                sql, self.source, cursor=number, head=head, undo_blocks=self.settings.undo_blocks
            )
            rewind_to(sql, ancestor)
        return ancestor

    def sync_once(self) -> SyncResult | None:
        """Index the next range of blocks; None when caught up with the head."""
        rewound = self.check_reorg()
        current = self.cursor()
        start = current[0] + 1 if current else self._start_block()
        head = self.source.head() - self.settings.confirmations
        if start > head:
            return None if rewound is None else SyncResult(start, start - 1, 0, 0, rewound)
        end = min(head, start + self.settings.batch_blocks - 1)
        logs = sorted(
            self.source.get_logs(start, end, self.addresses),
            key=lambda log: (as_int(log["blockNumber"]), as_int(log["logIndex"])),
        )
        refs = self._block_refs(logs, end)
        events = self.decoder.decode_logs(logs)
        keys = [
            (
                as_bytes(log["blockHash"]),
                as_int(log["logIndex"]),
                as_int(log["blockNumber"]),
                as_bytes(log["transactionHash"]),
            )
            for log in logs
        ]
        with self.engine.begin() as conn:
            count = Projector(Sql(conn)).write(events, keys, refs, refs[end])
            Sql(conn).run(
                "DELETE FROM undo_log WHERE block_number < ?", (end - self.settings.undo_blocks,)
            )
        self._analyze(count)
        return SyncResult(start, end, len(logs), count, rewound)

    def _analyze(self, written: int, *, force: bool = False) -> None:
        """Refresh PostgreSQL's planner statistics after bulk writes: without them, a freshly
        loaded database plans the recursive container query as sequential scans (autovacuum
        catches up only later). SQLite plans from the indexes alone."""
        self._unanalyzed += written
        if self.engine.dialect.name != "postgresql" or not self._unanalyzed:
            return
        if force or self._unanalyzed >= self.settings.analyze_every:
            with self.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE items, item_events, lot_reach, processed_logs")
            self._unanalyzed = 0

    def _block_refs(self, logs: Sequence[Mapping[str, Any]], end: int) -> dict[int, BlockRef]:
        """Hash and time of every block with logs and of `end`; refuses logs whose block
        hash is not the chain's current one (a reorg during the fetch: retry later)."""
        refs: dict[int, BlockRef] = {}
        for log in logs:
            number = as_int(log["blockNumber"])
            if number not in refs:
                refs[number] = self.source.block(number)
            if refs[number].hash != as_bytes(log["blockHash"]):
                raise SourceError(f"block {number} changed while fetching its logs")
        if end not in refs:
            refs[end] = self.source.block(end)
        return refs

    def catch_up(self) -> int:
        """Sync until the head; return the item-event rows written."""
        total = 0
        while (result := self.sync_once()) is not None:
            total += result.item_events
        self._analyze(0, force=True)
        return total

    def run(
        self,
        *,
        stop: Callable[[], bool] = lambda: False,
        on_sync: Callable[[SyncResult], None] | None = None,
        on_error: Callable[[SourceError], None] | None = None,
        heads: NewHeads | None = None,
    ) -> None:
        """Follow the chain until `stop()` is true, retrying source errors. Caught up, it
        waits `poll_interval` for the next look, or less: until `heads` announces a block."""
        while not stop():
            if heads is not None:
                heads.clear()  # before the look, so a block made during it wakes the next
            try:
                result = self.sync_once()
            except SourceError as exc:
                if on_error is not None:
                    on_error(exc)
                time.sleep(self.settings.poll_interval)
                continue
            if result is None:
                self._analyze(0, force=True)
                if heads is None:
                    time.sleep(self.settings.poll_interval)
                else:
                    heads.wait(self.settings.poll_interval)
            elif on_sync is not None:
                on_sync(result)
