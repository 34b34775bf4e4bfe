"""A small process supervisor: named child processes, their logs, health, restarts and kills.

Interface (used by `medledger up`, `bench soak`, `bench e2e` and the benchmarks):

```python
from medledger.runtime.supervisor import ProcessSpec, Supervisor, free_port, wait_http

with Supervisor(log_dir) as sup:               # stop_all() on exit, even on an exception
    sup.install_signal_handlers()              # SIGINT/SIGTERM -> stop_all(), then exit 130/143
    port = free_port()
    sup.start(ProcessSpec(
        "node",
        [sys.executable, "-m", "medledger.cli", "node", "--rpc-port", str(port)],
        env={"MEDLEDGER_DEBUG": "1"},          # merged over os.environ (less its secrets)
        health_url=f"http://127.0.0.1:{port}/healthz",  # start() waits for a 2xx
    ))
    sup.kill("node")                           # SIGKILL, waits for the exit
    sup.restart("node")                        # stop (TERM, then KILL) and start again
    sup.exited()                               # names of children that died on their own
    sup.log_path("node")                       # <log_dir>/node.log (stdout + stderr, appended)
```

Children stay in the supervisor's process group (a terminal's Ctrl-C reaches all of them);
each one also gets SIGTERM from `stop`/`stop_all` in reverse start order, and SIGKILL
after `stop_timeout` seconds. Errors are `SupervisorError` naming the process and its log.

Children run with umask 077, so every file they create (databases, logs, keys) is theirs
alone, and logs are created 0600. A child inherits the supervisor's environment except
the variables that hold secrets (`MEDLEDGER_*KEY`, `*PASSWORD`, `*TOKEN`, `*SECRET`): a
secret reaches a child only through its own spec, or better a 0600 file it reads itself.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO

import httpx

__all__ = [
    "ProcessSpec",
    "Supervisor",
    "SupervisorError",
    "child_environment",
    "free_port",
    "wait_http",
]

REPO = Path(__file__).resolve().parent.parent


# Secrets in the supervisor's own environment are not inherited by its children.
_SECRET_VARIABLE = re.compile(r"^MEDLEDGER_\w*(KEY|PASSWORD|TOKEN|SECRET)$")


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The supervisor's environment without its secrets, with `extra` over it."""
    inherited = {k: v for k, v in os.environ.items() if not _SECRET_VARIABLE.match(k)}
    return {**inherited, **extra}


class SupervisorError(RuntimeError):
    """A child failed to start, become healthy or stop."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str,
    *,
    timeout: float = 90.0,
    alive: Callable[[], bool] | None = None,
    what: str = "",
) -> None:
    """Poll GET `url` until it answers 2xx; give up after `timeout` s or when `alive()`
    turns false (the process died)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if alive is not None and not alive():
                raise SupervisorError(f"{what or url} exited before {url} answered ({last})")
            try:
                response = client.get(url)
                if response.is_success:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.1)
    raise SupervisorError(f"{what or url}: {url} did not answer 2xx within {timeout} s ({last})")


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """How to run one child: argv, extra environment, working directory, health URL."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path = REPO
    health_url: str | None = None
    health_timeout: float = 120.0
    stop_timeout: float = 20.0


@dataclass
class _Child:
    spec: ProcessSpec
    proc: subprocess.Popen[bytes]
    log: IO[bytes]
    restarts: int = 0


class Supervisor:
    """Owns its children: start, wait healthy, restart, kill, stop all."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._children: dict[str, _Child] = {}
        self._expected_exit: set[str] = set()

    # ------------------------------------------------------------------ lifecycle

    def start(self, spec: ProcessSpec, *, wait: bool = True) -> subprocess.Popen[bytes]:
        """Start `spec` (its name must be free or its process gone); wait for health."""
        old = self._children.get(spec.name)
        if old is not None and old.proc.poll() is None:
            raise SupervisorError(f"{spec.name} is already running (pid {old.proc.pid})")
        fd = os.open(self.log_path(spec.name), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        log = os.fdopen(fd, "ab")
        try:
            proc = subprocess.Popen(
                list(spec.argv),
                cwd=spec.cwd,
                env=child_environment(spec.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                umask=0o077,
            )
        except OSError as exc:
            log.close()
            raise SupervisorError(f"cannot start {spec.name} ({spec.argv[0]}): {exc}") from exc
        if old is not None:
            old.log.close()
        self._children[spec.name] = _Child(spec, proc, log, old.restarts + 1 if old else 0)
        self._expected_exit.discard(spec.name)
        if wait:
            self.wait_healthy(spec.name)
        return proc

    def wait_healthy(self, name: str, timeout: float | None = None) -> None:
        child = self._child(name)
        if child.spec.health_url is None:
            return
        try:
            wait_http(
                child.spec.health_url,
                timeout=timeout or child.spec.health_timeout,
                alive=lambda: child.proc.poll() is None,
                what=name,
            )
        except SupervisorError as exc:
            raise SupervisorError(f"{exc}; see {self.log_path(name)}") from None

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` (default SIGKILL) and wait for the process to go."""
        child = self._child(name)
        self._expected_exit.add(name)
        if child.proc.poll() is None:
            child.proc.send_signal(sig)
            child.proc.wait()

    def stop(self, name: str) -> int | None:
        """SIGTERM, then SIGKILL after the spec's stop_timeout; the exit code."""
        child = self._child(name)
        self._expected_exit.add(name)
        if child.proc.poll() is None:
            child.proc.terminate()
            try:
                child.proc.wait(timeout=child.spec.stop_timeout)
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
        return child.proc.returncode

    def restart(self, name: str, *, wait: bool = True) -> subprocess.Popen[bytes]:
        self.stop(name)
        return self.start(self._child(name).spec, wait=wait)

    def stop_all(self) -> None:
        """Stop every child, newest first (API before indexer before node)."""
        for name in reversed(list(self._children)):
            self.stop(name)
            self._children[name].log.close()

    # ------------------------------------------------------------------ queries

    def names(self) -> list[str]:
        return list(self._children)

    def spec(self, name: str) -> ProcessSpec:
        return self._child(name).spec

    def pid(self, name: str) -> int:
        return self._child(name).proc.pid

    def is_running(self, name: str) -> bool:
        return self._child(name).proc.poll() is None

    def restarts(self, name: str) -> int:
        return self._child(name).restarts

    def exited(self) -> dict[str, int]:
        """Children that died without being told to, with their exit codes."""
        return {
            name: child.proc.returncode
            for name, child in self._children.items()
            if child.proc.poll() is not None and name not in self._expected_exit
        }

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.log_path(name)
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # ------------------------------------------------------------------ signals, context

    def install_signal_handlers(self) -> None:
        """On SIGINT/SIGTERM: stop every child, then exit 128+signal."""

        def handler(signum: int, _frame: FrameType | None) -> None:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not interrupt
            self.stop_all()
            raise SystemExit(128 + signum)

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, handler)

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()

    def _child(self, name: str) -> _Child:
        try:
            return self._children[name]
        except KeyError:
            known = ", ".join(self._children) or "none"
            raise SupervisorError(f"no process named {name!r} (known: {known})") from None
