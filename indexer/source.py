"""Where logs come from: the `LogSource` interface and its web3 implementation.

`Web3LogSource` works over any web3 provider: HTTP (our node, anvil, Besu) or
eth-tester in process. It asks for raw `eth_getLogs` results (no web3 formatting); the
indexer decodes them itself with `sdk.abi.AbiCodec`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from web3 import HTTPProvider, Web3

from medledger.indexer.errors import SourceError
from medledger.sdk.abi import as_bytes, as_int

__all__ = ["BlockRef", "LogSource", "Web3LogSource"]


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
