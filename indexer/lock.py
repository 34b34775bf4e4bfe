"""One writer per database: a second indexer refuses to start instead of racing.

SQLite: an exclusive `flock` on `<db file>.lock`. PostgreSQL: a session advisory lock held
on a dedicated connection. Both vanish with the process, so a `kill -9` never leaves a
stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from types import TracebackType

from sqlalchemy import Connection, Engine

from medledger.indexer.config import Settings, sqlite_path
from medledger.indexer.errors import LockedError

__all__ = ["WriterLock"]

# "MEDLEDGR" as an int64: the advisory lock key of the indexer.
PG_LOCK_KEY = int.from_bytes(b"MEDLEDGR", "big") & 0x7FFF_FFFF_FFFF_FFFF


class WriterLock:
    """Context manager holding the writer lock for `settings.db_url`."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self._settings = settings
        self._engine = engine
        self._fd: int | None = None
        self._conn: Connection | None = None

    def acquire(self) -> None:
        if self._settings.is_sqlite:
            path = sqlite_path(self._settings.db_url)
            assert path is not None  # Settings refuses in-memory SQLite
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise LockedError(
                    f"another indexer is writing to {path} (lock file {path}.lock is held)"
                ) from None
            self._fd = fd
            return
        conn = self._engine.connect()
        got = conn.exec_driver_sql("SELECT pg_try_advisory_lock(%s)", (PG_LOCK_KEY,)).scalar()
        conn.commit()
        if not got:
            conn.close()
            raise LockedError(
                f"another indexer is writing to {self._engine.url.render_as_string()} "
                f"(advisory lock {PG_LOCK_KEY} is held)"
            )
        self._conn = conn

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._conn is not None:
            self._conn.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (PG_LOCK_KEY,))
            self._conn.close()
            self._conn = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
