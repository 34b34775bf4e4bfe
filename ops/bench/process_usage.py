"""CPU and memory of named processes over a measured window (psutil), for benchmarks."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType

import psutil

__all__ = ["ProcessUsage", "UsageMonitor"]


@dataclass(frozen=True, slots=True)
class ProcessUsage:
    name: str
    cpu_percent: float  # of one core, averaged over the window
    peak_rss_mb: float

    def as_dict(self) -> dict[str, float]:
        return {
            "cpu_percent": round(self.cpu_percent, 1),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
        }


def _tree(process: psutil.Process, *, children: bool = True) -> list[psutil.Process]:
    if not children:
        return [process]
    try:
        return [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _cpu_seconds(process: psutil.Process, children: bool) -> float:
    total = 0.0
    for p in _tree(process, children=children):
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _rss(process: psutil.Process, children: bool) -> int:
    total = 0
    for p in _tree(process, children=children):
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


class UsageMonitor:
    """`with UsageMonitor({"node": pid, …}) as monitor:` … `monitor.usage()`: CPU time
    over the window and the peak resident memory sampled every `interval` seconds, each
    with the process's children except for the names in `alone` (e.g. the process that
    started all the others)."""

    def __init__(
        self,
        pids: Mapping[str, int],
        *,
        alone: frozenset[str] = frozenset(),
        interval: float = 0.25,
    ) -> None:
        self._processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self._children = {name: name not in alone for name in pids}
        self._interval = interval
        self._peak = dict.fromkeys(self._processes, 0)
        self._start_cpu: dict[str, float] = {}
        self._end_cpu: dict[str, float] = {}
        self._started = self._ended = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample_rss()

    def _sample_rss(self) -> None:
        for name, process in self._processes.items():
            self._peak[name] = max(self._peak[name], _rss(process, self._children[name]))

    def __enter__(self) -> UsageMonitor:
        self._start_cpu = {
            n: _cpu_seconds(p, self._children[n]) for n, p in self._processes.items()
        }
        self._started = time.monotonic()
        self._sample_rss()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._ended = time.monotonic()
        self._end_cpu = {n: _cpu_seconds(p, self._children[n]) for n, p in self._processes.items()}
        self._stop.set()
        self._thread.join()
        self._sample_rss()

    def usage(self) -> list[ProcessUsage]:
        seconds = max(self._ended - self._started, 1e-9)
        return [
            ProcessUsage(
                name,
                100.0 * max(0.0, self._end_cpu[name] - self._start_cpu[name]) / seconds,
                self._peak[name] / 2**20,
            )
            for name in self._processes
        ]
