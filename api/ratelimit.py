"""Per-client token buckets for the public verification API, shared by every API worker.

Each client (an API key when it sends one, else its IP address) has a bucket of
`rate_per_minute` tokens that refills continuously at `rate_per_minute / 60` per second; a
request takes one token, and a client with an empty bucket is told how long until the next
one (the 429's Retry-After).

The buckets live in one SQLite file under the API's data directory, which every worker
process of `medledger api --workers N` opens, so a client's budget is the same whichever
worker answers (not N times larger). One request is one UPSERT … RETURNING statement in
autocommit mode: SQLite's write lock makes the read-refill-take atomic across processes,
and with `synchronous=OFF` it never waits for the disk (the buckets are worth nothing after
a power cut). No server is needed. Clients are stored by a hash, never an IP in clear; full
(idle) buckets are deleted every `prune_every` requests, since they carry no information.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from fastapi import Request

__all__ = ["API_KEY_HEADER", "SharedBuckets", "client_id"]

API_KEY_HEADER = "X-API-Key"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS buckets (client BLOB PRIMARY KEY, tokens REAL NOT NULL, "
    "stamp REAL NOT NULL, granted INTEGER NOT NULL) WITHOUT ROWID"
)
# In an UPSERT's SET, every right-hand side reads the row as it was before the update.
_REFILLED = "MIN(:cap, tokens + MAX(0.0, :now - stamp) * :rate)"
_TAKE = (
    "INSERT INTO buckets (client, tokens, stamp, granted) VALUES (:client, :cap - 1, :now, 1) "
    f"ON CONFLICT (client) DO UPDATE SET tokens = {_REFILLED} - ({_REFILLED} >= 1), "
    f"granted = {_REFILLED} >= 1, stamp = :now RETURNING tokens, granted"
)
_PRUNE = "DELETE FROM buckets WHERE tokens + (:now - stamp) * :rate >= :cap"


class SharedBuckets:
    """Token buckets keyed by client id, in the SQLite file `path` (created if missing)."""

    def __init__(
        self,
        path: Path,
        *,
        rate_per_minute: int,
        burst: int | None = None,
        prune_every: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if rate_per_minute < 1:
            raise ValueError(f"rate_per_minute must be >= 1, not {rate_per_minute}")
        self.capacity = float(burst if burst is not None else rate_per_minute)
        if self.capacity < 1:
            raise ValueError(f"burst must be >= 1, not {burst}")
        self.per_second = rate_per_minute / 60.0
        self._prune_every = prune_every
        self._clock = clock  # wall clock: every process must read the same one
        self._taken = 0
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute(_SCHEMA)

    def take(self, client: str) -> int:
        """Take one token for `client`: 0 if granted, else whole seconds until one is."""
        params = {
            "client": hashlib.sha256(client.encode("utf-8")).digest()[:16],
            "cap": self.capacity,
            "rate": self.per_second,
            "now": self._clock(),
        }
        with self._lock:
            tokens, granted = self._conn.execute(_TAKE, params).fetchone()
            self._taken += 1
            if self._taken % self._prune_every == 0:
                self._conn.execute(_PRUNE, params)
        if granted:
            return 0
        return max(1, math.ceil((1.0 - float(tokens)) / self.per_second))

    def clients(self) -> int:
        """How many buckets are stored (full ones are pruned now and then)."""
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM buckets").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def client_id(request: Request) -> str:
    """Who a request counts against: its API key (hashed, never stored in clear) or its IP."""
    key = request.headers.get(API_KEY_HEADER)
    if key:
        return "key:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    host = request.client.host if request.client is not None else "unknown"
    return "ip:" + host
