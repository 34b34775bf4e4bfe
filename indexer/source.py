"""Where logs come from: the `LogSource` interface and its web3 implementation.

`Web3LogSource` works over any web3 provider: HTTP (our node, anvil, Besu) or
eth-tester in process. It asks for raw `eth_getLogs` results (no web3 formatting); the
indexer decodes them itself with `sdk.abi.AbiCodec`.

`NewHeads` is the push side, for endpoints that offer it: a WebSocket subscription to
`eth_subscribe("newHeads")` that wakes the follower as soon as a block is made.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from web3 import HTTPProvider, Web3
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect
from websockets.sync.connection import Connection

from medledger.indexer.errors import SourceError
from medledger.sdk.abi import as_bytes, as_int

__all__ = ["BlockRef", "LogSource", "NewHeads", "Web3LogSource"]

log = logging.getLogger("medledger.indexer.source")


@dataclass(frozen=True, slots=True)
class BlockRef:
    number: int
    hash: bytes
    timestamp: int


class LogSource(Protocol):
    """The chain as the indexer needs it."""

    def head(self) -> int: ...

    def block(self, number: int) -> BlockRef: ...

    def get_logs(
        self, from_block: int, to_block: int, addresses: Sequence[str]
    ) -> list[Mapping[str, Any]]: ...


class Web3LogSource:
    """A `LogSource` over a web3 instance.

    Over HTTP it sends raw JSON-RPC and skips web3's result formatting (the slow part on
    large log sets); other providers (eth-tester in process) go through web3's formatters,
    which they need to translate requests.
    """

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self._raw = isinstance(w3.provider, HTTPProvider)

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 60.0) -> Web3LogSource:
        return cls(Web3(HTTPProvider(url, request_kwargs={"timeout": timeout})))

    def _request(self, method: str, params: list[Any]) -> Any:
        try:
            if not self._raw:
                return self.w3.manager.request_blocking(method, params)  # type: ignore[arg-type]
            response = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        except Exception as exc:  # network, HTTP or provider failure
            raise SourceError(f"{method} failed: {exc}") from exc
        if "error" in response:
            raise SourceError(f"{method} failed: {response['error']}")
        return response["result"]

    def head(self) -> int:
        return as_int(self._request("eth_blockNumber", []))

    def block(self, number: int) -> BlockRef:
        result = self._request("eth_getBlockByNumber", [hex(number), False])
        if result is None:
            raise SourceError(f"block {number} not found")
        return BlockRef(number, as_bytes(result["hash"]), as_int(result["timestamp"]))

    def get_logs(
        self, from_block: int, to_block: int, addresses: Sequence[str]
    ) -> list[Mapping[str, Any]]:
        """Logs of `addresses` in the range; a range the endpoint refuses (too many
        results, too wide) is split in halves until it answers."""
        params = {
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
            "address": list(addresses),
        }
        try:
            logs: list[Mapping[str, Any]] = self._request("eth_getLogs", [params])
        except SourceError:
            if from_block >= to_block:
                raise
            middle = (from_block + to_block) // 2
            return self.get_logs(from_block, middle, addresses) + self.get_logs(
                middle + 1, to_block, addresses
            )
        return logs


class NewHeads:
    """Wakes a waiter on every block a node announces over WebSocket (`newHeads`).

    Only the wake-up comes from here; what is indexed is still read over `LogSource`, so
    nothing changes for exactly-once or reorgs. A dropped socket is reconnected with
    backoff (`min_backoff` doubling up to `max_backoff`); meanwhile `wait` just times
    out, which is the poll.
    """

    def __init__(self, url: str, *, min_backoff: float = 0.5, max_backoff: float = 30.0) -> None:
        self.url = url
        self.connected = threading.Event()
        self._new = threading.Event()
        self._stop = threading.Event()
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._socket: Connection | None = None
        self._thread = threading.Thread(target=self._run, name="new-heads", daemon=True)

    def start(self) -> NewHeads:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.wake()
        socket = self._socket
        if socket is not None:
            socket.close()
        self._thread.join(timeout=10)

    def __enter__(self) -> NewHeads:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def clear(self) -> None:
        self._new.clear()

    def wake(self) -> None:
        """End the current `wait` now, as a new block would."""
        self._new.set()

    def wait(self, timeout: float) -> bool:
        """Until a block is announced since the last `clear` (True), or `timeout` (False)."""
        return self._new.wait(timeout)

    def _run(self) -> None:
        backoff = self._min_backoff
        while not self._stop.is_set():
            try:
                with connect(self.url, open_timeout=10, close_timeout=2) as socket:
                    self._socket = socket
                    self._follow(socket)
                    backoff = self._min_backoff
            except (OSError, TimeoutError, WebSocketException, SourceError) as exc:
                if not self._stop.is_set():
                    log.warning("new heads from %s: %s; retrying in %.1f s", self.url, exc, backoff)
            finally:
                self._socket = None
                if self.connected.is_set():
                    self.connected.clear()
                    self._new.set()  # heads may have been missed: look once
            if self._stop.wait(backoff):
                return
            backoff = min(backoff * 2, self._max_backoff)

    def _follow(self, socket: Connection) -> None:
        request = {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}
        socket.send(json.dumps(request))
        answer = json.loads(socket.recv(timeout=10))
        if not isinstance(answer, dict) or not isinstance(answer.get("result"), str):
            raise SourceError(f"eth_subscribe(newHeads) was refused: {str(answer)[:200]}")
        self.connected.set()
        self._new.set()  # blocks made before the subscription: look once
        for message in socket:
            if '"eth_subscription"' in str(message):
                self._new.set()
