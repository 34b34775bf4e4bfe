"""Parsing of JSON-RPC parameters; each bad value is an `invalid params` error naming it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.errors import INVALID_PARAMS, RpcError
from node.records import LogFilter

__all__ = ["address", "block_tag", "data", "integer", "log_filter", "tx_hash"]

TAGS = ("latest", "pending", "earliest", "safe", "finalized")


def _bad(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message)


def data(value: Any, name: str = "data") -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise _bad(f"{name} must be a 0x-prefixed hex string, got {value!r}")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise _bad(f"{name} is not valid hex: {value[:80]!r}") from exc


def _fixed(value: Any, size: int, name: str) -> bytes:
    raw = data(value, name)
    if len(raw) != size:
        raise _bad(f"{name} must be {size} bytes, got {len(raw)}: {value!r}")
    return raw


def address(value: Any) -> bytes:
    return _fixed(value, 20, "address")


def tx_hash(value: Any) -> bytes:
    return _fixed(value, 32, "transaction hash")


def integer(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise _bad(f"{name} must be a 0x-prefixed hex quantity, got {value!r}")


def block_tag(value: Any) -> tuple[str, Any]:
    """("number", int | tag) or ("hash", bytes); accepts EIP-1898 objects."""
    if isinstance(value, dict):
        if "blockHash" in value:
            return "hash", _fixed(value["blockHash"], 32, "blockHash")
        if "blockNumber" in value:
            return block_tag(value["blockNumber"])
        raise _bad(f"block must name blockHash or blockNumber, got {value!r}")
    if value in TAGS:
        return "number", value
    if isinstance(value, str) and value.startswith("0x"):
        if len(value) == 66:
            return "hash", _fixed(value, 32, "block hash")
        return "number", integer(value, "block number")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return "number", value
    raise _bad(f"block must be a number, a hash or one of {', '.join(TAGS)}; got {value!r}")


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
    from_block = _tag_number(criteria.get("fromBlock", "latest"), "fromBlock")
    to_block = _tag_number(criteria.get("toBlock", "latest"), "toBlock")
    raw_addresses = criteria.get("address") or []
    if isinstance(raw_addresses, str):
        raw_addresses = [raw_addresses]
    if not isinstance(raw_addresses, list):
        raise _bad(f"address must be an address or a list of them, got {raw_addresses!r}")
    addresses = [address(a) for a in raw_addresses]
    raw_topics = criteria.get("topics") or []
    if not isinstance(raw_topics, list) or len(raw_topics) > 4:
        raise _bad(f"topics must be a list of at most 4 positions, got {raw_topics!r}")
    topics: list[list[bytes] | None] = []
    for position in raw_topics:
        if position is None:
            topics.append(None)
        elif isinstance(position, str):
            topics.append([_fixed(position, 32, "topic")])
        elif isinstance(position, list):
            topics.append([_fixed(t, 32, "topic") for t in position] or None)
        else:
            raise _bad(f"a topic position must be null, a topic or a list, got {position!r}")
    return LogQuery(from_block, to_block, block_hash, LogFilter(addresses, topics))


def _tag_number(value: Any, name: str) -> Any:
    kind, parsed = block_tag(value)
    if kind == "hash":
        raise _bad(f"{name} must be a block number or tag, not a hash")
    return parsed
