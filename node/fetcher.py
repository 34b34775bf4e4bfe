"""Fetching sealed blocks from the sequencer, for the follower.

`fetch_blocks` asks the sequencer for its head and then for up to `FETCH_BATCH` raw blocks
and their seals in one JSON-RPC batch. The follower can do that itself (`DirectFetcher`)
or leave it to a helper process (`FetcherProcess`, `python -m node.fetcher`), which also
recovers every transaction's sender, so the follower's own process spends its core on
re-executing blocks while the next ones are fetched and prepared. A sender the helper
recovered is only a shortcut: the follower still checks each block's seal, its
transactions root and every header field after re-executing it, and a block whose senders
the helper could not recover goes through the follower's full decoding, which names the
fault.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import rlp
from eth.vm.forks.prague.blocks import PragueBlock

from medledger.node.child import ChildProcess, connect_to_parent
from medledger.node.client import RpcClient
from medledger.node.errors import RpcError

__all__ = [
    "DirectFetcher",
    "Fetched",
    "FetchedBlock",
    "FetcherGone",
    "FetcherProcess",
    "fetch_blocks",
]

log = logging.getLogger("medledger.node.fetcher")
FETCH_BATCH = 32


class FetcherGone(RuntimeError):
    """The fetcher process exited: the follower cannot go on."""


@dataclass(frozen=True, slots=True)
class FetchedBlock:
    number: int
    raw: bytes
    seal: str | None
    senders: tuple[bytes, ...] | None = None


@dataclass(frozen=True, slots=True)
class Fetched:
    remote_head: int
    blocks: list[FetchedBlock]


class Fetcher(Protocol):
    def fetch(self, start: int) -> Fetched: ...

    def close(self) -> None: ...


def fetch_blocks(client: RpcClient, start: int) -> Fetched:
    """The sequencer's head and its blocks from `start` on (at most `FETCH_BATCH`; fewer
    when the sequencer served only the first ones, its answers having passed its bound).
    Raises `ValueError` (or `OSError`, `RpcError`) when the sequencer cannot serve them."""
    remote_head = int(client.call("eth_blockNumber"), 16)
    if start > remote_head:
        return Fetched(remote_head, [])
    numbers = range(start, min(remote_head, start + FETCH_BATCH - 1) + 1)
    calls: list[tuple[str, list[Any]]] = []
    for n in numbers:
        calls += [("debug_getRawBlock", [hex(n)]), ("medledger_getSeal", [hex(n)])]
    answers = client.batch(calls)
    blocks: list[FetchedBlock] = []
    for i, n in enumerate(numbers):
        raw, seal = answers[2 * i], answers[2 * i + 1]
        if isinstance(raw, RpcError) or isinstance(seal, RpcError) or seal is None:
            if blocks:  # the batch's answers passed the sequencer's size bound: the rest next
                break
            raise ValueError(f"the sequencer did not serve block {n}")
        blocks.append(FetchedBlock(n, bytes.fromhex(raw[2:]), seal.get("seal")))
    return Fetched(remote_head, blocks)


def recover_senders(raw_block: bytes) -> tuple[bytes, ...] | None:
    """Every transaction's sender, or None if any cannot be decoded or recovered."""
    try:
        block = rlp.decode(raw_block, sedes=PragueBlock)
        return tuple(bytes(tx.sender) for tx in block.transactions)
    except Exception:  # the follower's own decoding will name what is wrong
        return None


class DirectFetcher:
    """Fetches in the follower's own process, when asked."""

    def __init__(self, client: RpcClient) -> None:
        self.client = client

    def fetch(self, start: int) -> Fetched:
        return fetch_blocks(self.client, start)

    def close(self) -> None:
        self.client.close()


class FetcherProcess:
    """Fetches and recovers senders in a helper process, one batch ahead of the follower."""

    def __init__(self, url: str) -> None:
        self._child = ChildProcess("medledger.node.fetcher", url)
        self._asked: int | None = None  # the start of the batch the helper is preparing

    def fetch(self, start: int) -> Fetched:
        try:
            return self._fetch(start)
        except (EOFError, OSError) as exc:
            raise FetcherGone(f"the fetcher process exited ({exc!r})") from exc

    def _fetch(self, start: int) -> Fetched:
        if self._asked is not None and self._asked != start:
            try:  # prepared for a start the follower no longer wants
                self._receive()
            except ValueError:
                pass
            self._asked = None
        if self._asked is None:
            self._child.conn.send(start)
        self._asked = None
        fetched = self._receive()
        if fetched.blocks:
            self._asked = fetched.blocks[-1].number + 1
            self._child.conn.send(self._asked)
        return fetched

    def _receive(self) -> Fetched:
        answer = self._child.conn.recv()
        if isinstance(answer, str):
            raise ValueError(answer)
        assert isinstance(answer, Fetched)
        return answer

    @property
    def pid(self) -> int:
        return self._child.process.pid

    def close(self) -> None:
        self._child.stop()


def main(argv: Sequence[str] | None = None) -> None:
    conn, url = connect_to_parent(argv, "The follower's block fetcher (node.fetcher).")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the follower stops us
    client = RpcClient(url)
    try:
        while True:
            start = conn.recv()
            try:
                fetched = fetch_blocks(client, start)
            except (OSError, RpcError, ValueError, KeyError) as exc:
                conn.send(str(exc) or type(exc).__name__)
                continue
            blocks = [
                FetchedBlock(b.number, b.raw, b.seal, recover_senders(b.raw))
                for b in fetched.blocks
            ]
            conn.send(Fetched(fetched.remote_head, blocks))
    except (EOFError, OSError):
        pass  # the follower went away


if __name__ == "__main__":
    from medledger.node.fetcher import (
        main as fetcher_main,  # so pickles name node.fetcher, not __main__
    )

    fetcher_main()
