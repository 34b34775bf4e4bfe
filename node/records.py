"""The node's own keys in the store, beside py-evm's: JSON-RPC records and the log index.

Written in the same LMDB transaction as the block they describe (see `node.store`):

| key                                   | value                                    |
|---------------------------------------|------------------------------------------|
| `ml:tx` + tx hash                     | the eth_getTransactionByHash object       |
| `ml:rc` + tx hash                     | the eth_getTransactionReceipt object      |
| `ml:bt` + block number (8 bytes)      | the block's transaction hashes            |
| `ml:lg` + block number                | the block's logs (only blocks with logs)  |
| `ml:ia` + address + block number      | posting: the block has a log from address |
| `ml:it` + topic + block number        | posting: the block has a log with topic   |
| `ml:sl` + block hash                  | the authority's 65-byte seal              |

`eth_getLogs` reads postings for the most selective condition over the block range, then
filters the logs of just those blocks: it never scans every receipt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["LogFilter", "Reader", "write_block"]

TX, RECEIPT, BLOCK_TXS, LOGS = b"ml:tx", b"ml:rc", b"ml:bt", b"ml:lg"
BY_ADDRESS, BY_TOPIC, SEAL = b"ml:ia", b"ml:it", b"ml:sl"


class _Writable(Protocol):
    def __setitem__(self, key: bytes, value: bytes) -> None: ...


class _Readable(Protocol):
    def get(self, key: bytes, default: bytes | None = None) -> bytes | None: ...

    def scan(self, start: bytes, stop: bytes) -> Any: ...


def _num(n: int) -> bytes:
    return n.to_bytes(8, "big")


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def write_block(
    db: _Writable,
    *,
    number: int,
    block_hash: bytes,
    transactions: Sequence[dict[str, Any]],
    receipts: Sequence[dict[str, Any]],
    seal: bytes,
) -> None:
    """Write the records of one block into the (uncommitted) buffer."""
    for tx, receipt in zip(transactions, receipts, strict=True):
        key = bytes.fromhex(tx["hash"][2:])
        db[TX + key] = _dump(tx)
        db[RECEIPT + key] = _dump(receipt)
    db[BLOCK_TXS + _num(number)] = _dump([tx["hash"] for tx in transactions])
    logs = [log for receipt in receipts for log in receipt["logs"]]
    if logs:
        db[LOGS + _num(number)] = _dump(logs)
        for address in {log["address"] for log in logs}:
            db[BY_ADDRESS + bytes.fromhex(address[2:]) + _num(number)] = b""
        for topic in {t for log in logs for t in log["topics"]}:
            db[BY_TOPIC + bytes.fromhex(topic[2:]) + _num(number)] = b""
    db[SEAL + block_hash] = seal


class LogFilter:
    """An eth_getLogs filter: addresses (any of), and per position a topic set or None."""

    def __init__(self, addresses: Sequence[bytes], topics: Sequence[Sequence[bytes] | None]):
        self.addresses = {"0x" + a.hex() for a in addresses}
        self.topics = [None if t is None else {"0x" + x.hex() for x in t} for t in topics]
        self._address_keys = list(addresses)
        self._topic_keys = [list(t) if t is not None else None for t in topics]

    def matches(self, log: dict[str, Any]) -> bool:
        if self.addresses and log["address"] not in self.addresses:
            return False
        for position, wanted in enumerate(self.topics):
            if wanted is None:
                continue
            if position >= len(log["topics"]) or log["topics"][position] not in wanted:
                return False
        return True

    def postings(self) -> list[tuple[bytes, list[bytes]]]:
        """Posting lists that every match must appear in: (prefix, alternatives)."""
        lists: list[tuple[bytes, list[bytes]]] = []
        if self._address_keys:
            lists.append((BY_ADDRESS, self._address_keys))
        for keys in self._topic_keys:
            if keys:
                lists.append((BY_TOPIC, keys))
        return lists


class Reader:
    """Reads of the node's records from one snapshot."""

    def __init__(self, db: _Readable) -> None:
        self.db = db

    def _json(self, key: bytes) -> Any:
        raw = self.db.get(key)
        return None if raw is None else json.loads(raw)

    def transaction(self, tx_hash: bytes) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self._json(TX + tx_hash)
        return result

    def receipt(self, tx_hash: bytes) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self._json(RECEIPT + tx_hash)
        return result

    def raw_transaction(self, tx_hash: bytes) -> bytes | None:
        return self.db.get(TX + tx_hash)

    def raw_receipt(self, tx_hash: bytes) -> bytes | None:
        return self.db.get(RECEIPT + tx_hash)

    def block_transaction_hashes(self, number: int) -> list[str]:
        result: list[str] | None = self._json(BLOCK_TXS + _num(number))
        return result or []

    def seal(self, block_hash: bytes) -> bytes | None:
        return self.db.get(SEAL + block_hash)

    def logs(self, first: int, last: int, log_filter: LogFilter, *, limit: int) -> list[Any]:
        """Logs in blocks [first, last] that match, in chain order; at most `limit`
        (`OverflowError` past it)."""
        blocks = self._candidate_blocks(first, last, log_filter)
        out: list[Any] = []
        for number in blocks:
            for log in self._json(LOGS + _num(number)) or []:
                if log_filter.matches(log):
                    out.append(log)
                    if len(out) > limit:
                        raise OverflowError(limit)
        return out

    def _candidate_blocks(self, first: int, last: int, log_filter: LogFilter) -> list[int]:
        postings = log_filter.postings()
        if not postings:
            start, stop = LOGS + _num(first), LOGS + _num(last + 1)
            return [int.from_bytes(k[-8:], "big") for k, _ in self.db.scan(start, stop)]
        result: set[int] | None = None
        for prefix, alternatives in postings:
            found: set[int] = set()
            for key in alternatives:
                start, stop = prefix + key + _num(first), prefix + key + _num(last + 1)
                found.update(int.from_bytes(k[-8:], "big") for k, _ in self.db.scan(start, stop))
            result = found if result is None else result & found
            if not result:
                return []
        return sorted(result or ())
