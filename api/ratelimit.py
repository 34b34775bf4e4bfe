"""Per-client token buckets for the public verification API.

Each client (an API key when it sends one, else its IP address) has a bucket of
`rate_per_minute` tokens that refills continuously at `rate_per_minute / 60` per second; a
request takes one token, and a client with an empty bucket is told how long until the next
one (the 429's Retry-After). Buckets live in the process (one per API worker); idle ones
are dropped once the table grows past `max_clients`, because a full bucket carries no
information.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

__all__ = ["API_KEY_HEADER", "TokenBuckets", "client_id"]

API_KEY_HEADER = "X-API-Key"


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class TokenBuckets:
    """Thread-safe token buckets keyed by client id."""

    def __init__(
        self,
        *,
        rate_per_minute: int,
        burst: int | None = None,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_minute < 1:
            raise ValueError(f"rate_per_minute must be >= 1, not {rate_per_minute}")
        self.capacity = float(burst if burst is not None else rate_per_minute)
        if self.capacity < 1:
            raise ValueError(f"burst must be >= 1, not {burst}")
        self.per_second = rate_per_minute / 60.0
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> int:
        """Take one token for `client`: 0 if granted, else whole seconds until one is."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(client)
            if bucket is None:
                if len(self._buckets) >= self.max_clients:
                    self._drop_full(now)
                bucket = self._buckets[client] = _Bucket(self.capacity, now)
            else:
                elapsed = max(0.0, now - bucket.stamp)
                bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.per_second)
                bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0
            return max(1, math.ceil((1.0 - bucket.tokens) / self.per_second))

    def _drop_full(self, now: float) -> None:
        full = [
            k
            for k, b in self._buckets.items()
            if b.tokens + (now - b.stamp) * self.per_second >= self.capacity
        ]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self.max_clients:  # everyone is busy: forget the oldest
            oldest = sorted(self._buckets, key=lambda k: self._buckets[k].stamp)
            for k in oldest[: len(oldest) // 2]:
                del self._buckets[k]


def client_id(request: Request) -> str:
    """Who a request counts against: its API key (hashed, never stored in clear) or its IP."""
    key = request.headers.get(API_KEY_HEADER)
    if key:
        return "key:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    host = request.client.host if request.client is not None else "unknown"
    return "ip:" + host
