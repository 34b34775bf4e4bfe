"""Parsing of JSON-RPC parameters; each bad value is an `invalid params` error naming it.

Every value is bounded as it is parsed: quantities fit 256 bits (block numbers 64), hex
strings have a length limit where the caller gives one, and lists that size the work or
the answer (fee-history percentiles, log addresses and topics) have a count limit. A
value past a bound is refused with `Reason.PARAM_TOO_LARGE` and the bound."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medledger.node.errors import INVALID_PARAMS, Reason, Refused, RpcError
from medledger.node.records import LogFilter

__all__ = [
    "MAX_LOG_ADDRESSES",
    "MAX_PERCENTILES",
    "address",
    "block_hash",
    "block_number",
    "block_tag",
    "boolean",
    "data",
    "integer",
    "log_filter",
    "percentiles",
    "tx_hash",
]

TAGS = ("latest", "pending", "earliest", "safe", "finalized")
MAX_PERCENTILES = 100  # as go-ethereum
MAX_LOG_ADDRESSES = 1_000
MAX_TOPIC_CHOICES = 1_000  # topics in one position of a log filter
UINT256 = 256
UINT64 = 64


def _bad(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message)


def too_large(name: str, limit: int, unit: str) -> Refused:
    """`name` is past its bound of `limit` `unit`."""
    return Refused(
        INVALID_PARAMS,
        Reason.PARAM_TOO_LARGE,
        f"{name} exceeds the limit of {limit:,} {unit}",
        limit=limit,
    )


def _show(value: Any) -> str:
    """A parameter for an error message: at most 80 characters of it."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def data(value: Any, name: str = "data", *, max_bytes: int | None = None) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise _bad(f"{name} must be a 0x-prefixed hex string, got {_show(value)}")
    if max_bytes is not None and len(value) > 2 + 2 * max_bytes:
        raise too_large(name, max_bytes, "bytes")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise _bad(f"{name} is not valid hex: {_show(value)}") from exc


def _fixed(value: Any, size: int, name: str) -> bytes:
    if isinstance(value, str) and value.startswith("0x") and len(value) != 2 + 2 * size:
        got = (len(value) - 2) / 2
        raise _bad(f"{name} must be {size} bytes, got {got:g}: {_show(value)}")
    return data(value, name)


def address(value: Any) -> bytes:
    return _fixed(value, 20, "address")


def tx_hash(value: Any) -> bytes:
    return _fixed(value, 32, "transaction hash")


def block_hash(value: Any) -> bytes:
    return _fixed(value, 32, "block hash")


def boolean(value: Any, name: str) -> bool:
    """A JSON true or false (go-ethereum refuses anything else where it wants a bool)."""
    if not isinstance(value, bool):
        raise _bad(f"{name} must be true or false, got {_show(value)}")
    return value


def integer(value: Any, name: str, *, bits: int = UINT256) -> int:
    """A non-negative quantity (a 0x-prefixed hex string or a JSON integer) below 2**bits."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        number = value
    elif isinstance(value, str) and value.startswith("0x") and len(value) <= 2 + 64:
        try:
            number = int(value, 16)
        except ValueError:
            pass
    if number is None:
        raise _bad(f"{name} must be a 0x-prefixed hex quantity, got {_show(value)}")
    if number >> bits:
        raise _bad(f"{name} must be below 2**{bits}, got {_show(value)}")
    return number


def percentiles(value: Any) -> list[float]:
    """eth_feeHistory's reward percentiles: at most `MAX_PERCENTILES` numbers from 0 to
    100 in ascending order."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(f"rewardPercentiles must be a list of numbers, got {_show(value)}")
    if len(value) > MAX_PERCENTILES:
        raise too_large("rewardPercentiles", MAX_PERCENTILES, "percentiles")
    out: list[float] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | float) or not 0 <= item <= 100:
            raise _bad(f"a reward percentile must be a number from 0 to 100, got {_show(item)}")
        if out and item < out[-1]:
            raise _bad("rewardPercentiles must be in ascending order")
        out.append(float(item))
    return out


def block_tag(value: Any) -> tuple[str, Any]:
    """("number", int | tag) or ("hash", bytes); accepts EIP-1898 objects."""
    if isinstance(value, dict):
        if "blockHash" in value:
            return "hash", _fixed(value["blockHash"], 32, "blockHash")
        if "blockNumber" in value:
            return block_tag(value["blockNumber"])
        raise _bad(f"block must name blockHash or blockNumber, got {_show(value)}")
    if value in TAGS:
        return "number", value
    if isinstance(value, str) and value.startswith("0x"):
        if len(value) == 66:
            return "hash", _fixed(value, 32, "block hash")
        return "number", integer(value, "block number", bits=UINT64)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return "number", integer(value, "block number", bits=UINT64)
    raise _bad(f"block must be a number, a hash or one of {', '.join(TAGS)}; got {_show(value)}")


@dataclass(frozen=True, slots=True)
class LogQuery:
    from_block: Any
    to_block: Any
    block_hash: bytes | None
    filter: LogFilter


def log_filter(criteria: Any) -> LogQuery:
    if not isinstance(criteria, dict):
        raise _bad("the log filter must be a JSON object")
    block_hash = None
    if criteria.get("blockHash") is not None:
        if "fromBlock" in criteria or "toBlock" in criteria:
            raise _bad("blockHash cannot be combined with fromBlock/toBlock")
        block_hash = _fixed(criteria["blockHash"], 32, "blockHash")
    from_block = block_number(criteria.get("fromBlock", "latest"), "fromBlock")
    to_block = block_number(criteria.get("toBlock", "latest"), "toBlock")
    raw_addresses = criteria.get("address") or []
    if isinstance(raw_addresses, str):
        raw_addresses = [raw_addresses]
    if not isinstance(raw_addresses, list):
        raise _bad(f"address must be an address or a list of them, got {_show(raw_addresses)}")
    if len(raw_addresses) > MAX_LOG_ADDRESSES:
        raise too_large("address", MAX_LOG_ADDRESSES, "addresses")
    addresses = [address(a) for a in raw_addresses]
    raw_topics = criteria.get("topics") or []
    if not isinstance(raw_topics, list) or len(raw_topics) > 4:
        raise _bad(f"topics must be a list of at most 4 positions, got {_show(raw_topics)}")
    topics: list[list[bytes] | None] = []
    for position in raw_topics:
        if position is None:
            topics.append(None)
        elif isinstance(position, str):
            topics.append([_fixed(position, 32, "topic")])
        elif isinstance(position, list):
            if len(position) > MAX_TOPIC_CHOICES:
                raise too_large("a topic position", MAX_TOPIC_CHOICES, "topics")
            topics.append([_fixed(t, 32, "topic") for t in position] or None)
        else:
            raise _bad(f"a topic position must be null, a topic or a list, got {_show(position)}")
    return LogQuery(from_block, to_block, block_hash, LogFilter(addresses, topics))


def block_number(value: Any, name: str) -> int | str:
    """A block number or tag, not a hash (go-ethereum's `BlockNumber`)."""
    kind, parsed = block_tag(value)
    if kind == "hash":
        raise _bad(f"{name} must be a block number or tag, not a hash")
    assert isinstance(parsed, int | str)
    return parsed
