"""The AMQP publisher as a background worker of the API process (`start_amqp_publishing`,
when `settings.amqp_url` is set): a daemon thread that publishes what is new every
`settings.amqp_poll_seconds`, elected among the process's workers by an exclusive lock on
`data_dir/amqp-publish.lock` (so N workers publish once). When the broker is away it
tries again with exponential backoff (up to `_MAX_BACKOFF` s), logging at most once a
minute while it keeps failing."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from pathlib import Path

from medledger.domain.delivery.amqp import AmqpPublisher

__all__ = ["AmqpPublishing"]

log = logging.getLogger(__name__)

_MAX_BACKOFF = 30.0


class AmqpPublishing:
    """Runs `publisher.publish_pending()` in a thread until `close()`."""

    def __init__(self, publisher: AmqpPublisher, *, interval: float, lock_path: Path) -> None:
        self.publisher = publisher
        self._interval = interval
        self._lock_path = lock_path
        self._lock_fd: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="medledger-amqp-publish")
        self._thread.daemon = True
        self._thread.start()

    def _hold_lock(self) -> bool:
        if self._lock_fd is not None:
            return True
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another worker of this API publishes
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def _run(self) -> None:
        wait, backoff = 0.0, self._interval
        logged_at: float | None = None
        while not self._stop.wait(wait):
            wait = self._interval
            if not self._hold_lock():
                continue
            try:
                self.publisher.publish_pending()
            except Exception as exc:  # broker or database away: again, less often
                now = time.monotonic()
                if logged_at is None or now - logged_at >= 60:
                    log.warning("publishing events to AMQP failed: %s", exc)
                    logged_at = now
                backoff = min(backoff * 2, _MAX_BACKOFF)
                wait = backoff
            else:
                backoff, logged_at = self._interval, None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
        self.publisher.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
