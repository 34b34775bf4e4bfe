"""A helper process of a node (`python -m node.front`, `python -m node.fetcher`).

The node process starts it with one end of a socket pair and sends it its start message
over that pair. The helper dies with the node process, however it dies (the kernel's
`PR_SET_PDEATHSIG`, checked against the parent's pid for a parent that died before it was
set), so `kill -9` of a node never leaves a helper holding its port or its store.

A helper starts with a scrubbed environment (`helper_environment`): only what Python, the
locale and the logs need, never a key, password or token the node process was given.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

__all__ = ["ChildProcess", "connect_to_parent", "helper_environment"]

PR_SET_PDEATHSIG = 1
REPO = Path(__file__).resolve().parents[1]
_PASSED = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "MEDLEDGER_DEBUG"}
)
_PASSED_PREFIXES = ("LC_", "PYTHON", "VIRTUAL_ENV", "COV_CORE_", "COVERAGE_", "MEDLEDGER_LOG")


def helper_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """What a helper process may see of the node process's environment (an allow-list:
    a secret added to the node's environment tomorrow stays out of its helpers)."""
    source = dict(os.environ) if environ is None else environ
    return {
        name: value
        for name, value in source.items()
        if name in _PASSED or name.startswith(_PASSED_PREFIXES)
    }


class ChildProcess:
    """The node's side: the helper process and the connection to it."""

    def __init__(self, module: str, start_message: Any) -> None:
        ours, theirs = socket.socketpair()
        self.conn = Connection(ours.detach())
        fd = theirs.fileno()
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "--fd", str(fd), "--parent", str(os.getpid())],
            pass_fds=[fd],
            cwd=REPO,
            env=helper_environment(),
        )
        theirs.close()
        self.conn.send(start_message)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.conn.close()


def connect_to_parent(argv: Sequence[str] | None, description: str) -> tuple[Connection, Any]:
    """The helper's side: parse `--fd`/`--parent`, tie this process's life to the parent's,
    and return the connection and the start message."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--fd", type=int, required=True, help="socket to the node process")
    parser.add_argument("--parent", type=int, required=True, help="the node process's pid")
    args = parser.parse_args(argv)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != args.parent:  # the parent died before prctl took effect
        os._exit(1)
    conn = Connection(args.fd)
    return conn, conn.recv()
