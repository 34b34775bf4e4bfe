"""The verification scan log (`verification_scans`): its one writer and its reads.

Scans are off-chain facts: a reorg never touches them. They are written only by
`write_scans`: in batches by `ScanLog` (the verification API's background writer) or one at
a time by `record_scan`. On PostgreSQL every writer takes one transaction lock, so scan ids
are committed in id order and the oversight feed's `id > after` (`domain.oversight_feed`)
skips none.

`ScanLog` queues scans in memory and writes them in one multi-row insert per `interval`,
instead of one write transaction per request; `close()` (app shutdown, and at exit) writes
what is left. Until a scan is written it is still seen by this process's `pending()`, so the
two-places check does not miss it.

The reads only fetch rows; which of them are anomalies is `domain.scan_rules`'s to say.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Engine

from medledger.indexer.db import Sql
from medledger.indexer.items import EventKind
from medledger.indexer.queries.verification import Reader
from medledger.sdk.model import ItemStatus

__all__ = [
    "SCAN_WRITE_LOCK",
    "LoggedScan",
    "Scan",
    "ScanLog",
    "ScanPair",
    "UsedUnitScan",
    "member_scans",
    "member_scan_pairs",
    "record_scan",
    "used_unit_scans",
    "write_scans",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Scan:
    """One verification scan: the unit, when, its coarse place, and the member answering
    for it (None: anonymous)."""

    item_key: bytes
    scanned_at: int
    location: str
    scanner: str | None


@dataclass(frozen=True, slots=True)
class LoggedScan:
    """A written scan with its row id (ids follow the order of writing)."""

    id: int
    scan: Scan


_COLUMNS: Final = ("item_key", "scanned_at", "location", "scanner")
# pg_advisory_xact_lock key of scan writers ("MLSCANS" in ASCII).
SCAN_WRITE_LOCK: Final = 0x4D4C5343414E53


def write_scans(conn: Connection, scans: Iterable[Scan]) -> None:
    """Append scans to the log (the caller commits): the only writer of the table."""
    sql = Sql(conn)
    if sql.is_pg:
        sql.one("SELECT pg_advisory_xact_lock(?)", (SCAN_WRITE_LOCK,))
    sql.bulk_insert(
        "verification_scans",
        _COLUMNS,
        ((s.item_key, s.scanned_at, s.location, s.scanner) for s in scans),
    )


def record_scan(
    conn: Connection, item_key: bytes, *, scanned_at: int, location: str, scanner: str | None
) -> None:
    """Log one verification scan (the caller commits)."""
    write_scans(conn, [Scan(item_key, scanned_at, location, scanner)])


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
                write_scans(conn, batch)
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


def member_scans(sql: Reader, item_key: bytes, *, since: int, limit: int = 100) -> list[Scan]:
    """The newest scans of `item_key` by members (a scanner is set) since `since`, newest
    first."""
    rows = sql.rows(
        "SELECT scanned_at, location, scanner FROM verification_scans "
        "WHERE item_key = ? AND scanned_at >= ? AND scanner IS NOT NULL "
        "ORDER BY scanned_at DESC LIMIT ?",
        (item_key, since, limit),
    )
    return [Scan(item_key, int(t), str(loc), str(who)) for t, loc, who in rows]


def _logged(sid: Any, key: Any, at: Any, where: Any, who: Any) -> LoggedScan:
    scanner = None if who is None else str(who)
    return LoggedScan(int(sid), Scan(bytes(key), int(at), str(where), scanner))


@dataclass(frozen=True, slots=True)
class ScanPair:
    """A scan and a member's scan of the same unit written before it, at most
    `window_seconds` earlier, in another place (as strings: `domain.scan_rules` judges
    whether the places are distant)."""

    scan: LoggedScan
    earlier: Scan


def member_scan_pairs(conn: Connection, *, since: int, window_seconds: int) -> list[ScanPair]:
    """Every scan since `since` paired with each earlier member scan within the window,
    oldest scan first."""
    rows = Sql(conn).rows(
        "SELECT s2.id, s2.item_key, s2.scanned_at, s2.location, s2.scanner, "
        "s1.scanned_at, s1.location, s1.scanner "
        "FROM verification_scans s2 JOIN verification_scans s1 "
        "ON s1.item_key = s2.item_key AND s1.scanned_at >= s2.scanned_at - ? "
        "AND s1.scanned_at <= s2.scanned_at AND s1.id < s2.id AND s1.scanner IS NOT NULL "
        "WHERE s2.scanned_at >= ? AND s1.location <> s2.location "
        "ORDER BY s2.scanned_at, s2.id, s1.scanned_at DESC, s1.id DESC",
        (window_seconds, since),
    )
    return [
        ScanPair(
            _logged(sid, key, at, where, who),
            Scan(bytes(key), int(earlier_at), str(earlier_where), str(earlier_who)),
        )
        for sid, key, at, where, who, earlier_at, earlier_where, earlier_who in rows
    ]


@dataclass(frozen=True, slots=True)
class UsedUnitScan:
    """A scan of a unit that is now dispensed or destroyed, with the time of the step that
    made it so."""

    scan: LoggedScan
    status: ItemStatus
    used_at: int


_USED: Final = (
    (ItemStatus.DISPENSED, EventKind.DISPENSED),
    (ItemStatus.DESTROYED, EventKind.DESTROYED),
)


def used_unit_scans(conn: Connection, *, since: int) -> list[UsedUnitScan]:
    """Scans since `since` of units now dispensed or destroyed, oldest first."""
    (dispensed, dispensing), (destroyed, destroying) = _USED
    rows = Sql(conn).rows(
        "SELECT s.id, s.item_key, s.scanned_at, s.location, s.scanner, i.status, "
        "MAX(b.timestamp) FROM verification_scans s JOIN items i ON i.item_key = s.item_key "
        "JOIN item_events e ON e.item_id = i.id "
        "AND ((i.status = ? AND e.kind = ?) OR (i.status = ? AND e.kind = ?)) "
        "JOIN blocks b ON b.number = e.block_number "
        "WHERE s.scanned_at >= ? "
        "GROUP BY s.id, s.item_key, s.scanned_at, s.location, s.scanner, i.status "
        "ORDER BY s.scanned_at, s.id",
        (int(dispensed), int(dispensing), int(destroyed), int(destroying), since),
    )
    return [
        UsedUnitScan(_logged(sid, key, at, where, who), ItemStatus(int(status)), int(used_at))
        for sid, key, at, where, who, status, used_at in rows
    ]
