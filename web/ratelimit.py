"""Per-client token buckets for the public verification API, shared by every API worker.

Each client (an API key when it sends one, else its IP address) has a bucket of
`rate_per_minute` tokens that refills continuously at `rate_per_minute / 60` per second; a
request takes one token, and a client with an empty bucket is told how long until the next
one (the 429's Retry-After).

The buckets live in one memory-mapped file under the API's data directory, which every
worker process of `medledger api --workers N` maps, so a client's budget is the same
whichever worker answers (not N times larger). No server is needed. The file is a fixed
open-addressing hash table of 32-byte slots (client hash, tokens, time stamp); an
exclusive `flock` around each take makes read-refill-take atomic across processes, and a
waiting process sleeps in the kernel until the lock is free (no polling, unlike SQLite's
busy handler, whose back-off sleeps showed up as 30–500 ms stalls with two workers). A
take costs a few microseconds. Clients are stored by a hash, never an IP in clear.

A full bucket carries no information, so its slot is reused by the next new client that
probes past it. Only when all `PROBES` slots a new client may use hold clients still
spending does the oldest of them lose its state (it starts again with a full bucket).

`give` returns a token: a caller that counts only failures (password sign-in, API key
look-ups) takes the token *before* the slow check, so concurrent attempts can never run
more checks than the bucket holds, and gives it back when the check succeeds.
`shared_buckets(services, name, ...)` opens `<data_dir>/<name>.buckets` once per process.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import Request

from medledger.domain.services import Component, Services

__all__ = ["API_KEY_HEADER", "SharedBuckets", "client_address", "client_id", "shared_buckets"]

API_KEY_HEADER = "X-API-Key"

_MAGIC = b"MLRL0001"
_HEADER = struct.Struct("<8sQ")  # magic, slot count
_SLOT = struct.Struct("<16sdd")  # client hash, tokens, unix time of the last take
_EMPTY = bytes(16)
PROBES = 32


class SharedBuckets:
    """Token buckets keyed by client id, in the file `path` (created if missing)."""

    def __init__(
        self,
        path: Path,
        *,
        rate_per_minute: float,
        burst: int | None = None,
        slots: int = 1 << 17,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not rate_per_minute > 0:
            raise ValueError(f"rate_per_minute must be > 0, not {rate_per_minute}")
        self.capacity = float(burst if burst is not None else rate_per_minute)
        if self.capacity < 1:
            raise ValueError(f"burst must be >= 1, not {burst}")
        if slots < PROBES:
            raise ValueError(f"slots must be >= {PROBES}, not {slots}")
        self.per_second = rate_per_minute / 60.0
        self.slots = slots
        self._clock = clock  # wall clock: every process must read the same one
        self._thread_lock = threading.Lock()  # flock excludes processes, not threads
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        size = _HEADER.size + slots * _SLOT.size
        with self._locked():
            if os.fstat(self._fd).st_size != size or os.pread(self._fd, 16, 0) != _HEADER.pack(
                _MAGIC, slots
            ):
                os.ftruncate(self._fd, 0)
                os.ftruncate(self._fd, size)
                os.pwrite(self._fd, _HEADER.pack(_MAGIC, slots), 0)
        self._map = mmap.mmap(self._fd, size)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _offset(self, index: int) -> int:
        return _HEADER.size + index * _SLOT.size

    def take(self, client: str) -> int:
        """Take one token for `client`: 0 if granted, else whole seconds until one is."""
        return self._settle(client, change=-1)

    def wait(self, client: str) -> int:
        """Whole seconds until `client` could take a token (0: now), without taking one."""
        return self._settle(client, change=0)

    def give(self, client: str) -> None:
        """Give back one token `client` took (its attempt turned out not to count)."""
        self._settle(client, change=1)

    def _settle(self, client: str, *, change: int) -> int:
        key = hashlib.sha256(client.encode("utf-8")).digest()[:16]
        start = int.from_bytes(key[:8], "little") % self.slots
        now = self._clock()
        with self._locked():
            tokens, offset = self._find(key, start, now)
            granted = tokens >= 1.0
            if change > 0:
                tokens = min(self.capacity, tokens + change)
            elif change < 0 and granted:
                tokens -= 1.0
            if change:
                _SLOT.pack_into(self._map, offset, key, tokens, now)
        if granted:
            return 0
        return max(1, math.ceil((1.0 - tokens) / self.per_second))

    def _find(self, key: bytes, start: int, now: float) -> tuple[float, int]:
        """The client's refilled tokens and its slot; a new client gets a full bucket in the
        first empty or reusable slot of its probe sequence."""
        reusable: int | None = None
        oldest: tuple[float, int] | None = None
        for step in range(PROBES):
            offset = self._offset((start + step) % self.slots)
            owner, tokens, stamp = _SLOT.unpack_from(self._map, offset)
            if owner == key:
                refilled = tokens + max(0.0, now - stamp) * self.per_second
                return min(self.capacity, refilled), offset
            if owner == _EMPTY:  # nobody was ever stored further along
                return self.capacity, offset if reusable is None else reusable
            full = tokens + max(0.0, now - stamp) * self.per_second >= self.capacity
            if reusable is None and full:
                reusable = offset
            if oldest is None or stamp < oldest[0]:
                oldest = (stamp, offset)
        assert oldest is not None
        return self.capacity, oldest[1] if reusable is None else reusable

    def clients(self) -> int:
        """How many slots hold a client (full buckets included until their slot is reused)."""
        with self._locked():
            return sum(
                1
                for i in range(self.slots)
                if _SLOT.unpack_from(self._map, self._offset(i))[0] != _EMPTY
            )

    def close(self) -> None:
        with self._thread_lock:
            self._map.close()
            os.close(self._fd)


def shared_buckets(
    services: Services, name: str, *, rate_per_minute: float, burst: int, slots: int = 4096
) -> SharedBuckets:
    """The buckets in `<data_dir>/<name>.buckets`, opened once per process and shared by
    its threads (and, through the file, by the other worker processes)."""
    path = services.settings.data_dir / f"{name}.buckets"
    key: Component[SharedBuckets] = Component(f"buckets:{name}")
    return services.components.get(
        key,
        lambda: SharedBuckets(path, rate_per_minute=rate_per_minute, burst=burst, slots=slots),
    )


def client_id(request: Request) -> str:
    """Who a request counts against: its API key (hashed, never stored in clear) or its IP."""
    key = request.headers.get(API_KEY_HEADER)
    if key:
        return "key:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return "ip:" + client_address(request)


def client_address(request: Request) -> str:
    """The peer's IP address. No forwarding header is read here: uvicorn replaces the peer
    with the X-Forwarded-For client only for connections from a trusted proxy (the
    FORWARDED_ALLOW_IPS environment variable; uvicorn's default 127.0.0.1 and ::1), so a
    client elsewhere cannot choose its own address."""
    return request.client.host if request.client is not None else "unknown"
