"""Cached ABI codecs for the contract suite: custom errors and events by selector/topic.

This is the one place Solidity custom errors become Python `ContractError`s, and where
logs become `DecodedEvent`s without web3's per-log machinery (the indexer uses it too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from medledger.sdk.errors import ContractError

__all__ = ["AbiCodec", "DecodedEvent", "abi_type", "as_bytes", "as_int"]

# Panic(uint256) and Error(string), the two built-in revert shapes.
_PANIC = keccak(text="Panic(uint256)")[:4]
_ERROR = keccak(text="Error(string)")[:4]


def abi_type(param: Mapping[str, Any]) -> str:
    """The canonical ABI type of a parameter, expanding tuples."""
    kind: str = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


@dataclass(frozen=True, slots=True)
class DecodedEvent:
    contract: str
    name: str
    args: dict[str, Any]
    address: str
    block_number: int
    block_hash: bytes
    transaction_hash: bytes
    log_index: int

    @classmethod
    def of(
        cls, log: Mapping[str, Any], *, contract: str, name: str, args: dict[str, Any]
    ) -> DecodedEvent:
        """The decoded event of a raw log (web3 or JSON-RPC shape) with its chain reference."""
        return cls(
            contract=contract,
            name=name,
            args=args,
            address=str(log["address"]),
            block_number=as_int(log["blockNumber"]),
            block_hash=as_bytes(log["blockHash"]),
            transaction_hash=as_bytes(log["transactionHash"]),
            log_index=as_int(log["logIndex"]),
        )


@dataclass(frozen=True, slots=True)
class _EventCodec:
    contract: str
    name: str
    indexed: tuple[tuple[str, str], ...]
    data_names: tuple[str, ...]
    data_types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _ErrorCodec:
    contract: str
    name: str
    names: tuple[str, ...]
    types: tuple[str, ...]


class AbiCodec:
    """Decoders for every error and event of a set of ABIs, keyed by contract name."""

    def __init__(self, abis: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        self._abis = abis

    @cached_property
    def _errors(self) -> dict[bytes, _ErrorCodec]:
        out: dict[bytes, _ErrorCodec] = {}
        for contract, abi in self._abis.items():
            for entry in abi:
                if entry["type"] != "error":
                    continue
                types = tuple(abi_type(p) for p in entry["inputs"])
                selector = keccak(text=f"{entry['name']}({','.join(types)})")[:4]
                names = tuple(p["name"] or f"arg{i}" for i, p in enumerate(entry["inputs"]))
                out.setdefault(selector, _ErrorCodec(contract, entry["name"], names, types))
        return out

    @cached_property
    def _events(self) -> dict[bytes, _EventCodec]:
        out: dict[bytes, _EventCodec] = {}
        for contract, abi in self._abis.items():
            for entry in abi:
                if entry["type"] != "event" or entry.get("anonymous"):
                    continue
                types = [abi_type(p) for p in entry["inputs"]]
                topic = keccak(text=f"{entry['name']}({','.join(types)})")
                indexed = tuple(
                    (p["name"], t)
                    for p, t in zip(entry["inputs"], types, strict=True)
                    if p["indexed"]
                )
                data = [(p["name"], t) for p, t in zip(entry["inputs"], types, strict=True)]
                data = [
                    (n, t)
                    for (n, t), p in zip(data, entry["inputs"], strict=True)
                    if not p["indexed"]
                ]
                out.setdefault(
                    topic,
                    _EventCodec(
                        contract,
                        entry["name"],
                        indexed,
                        tuple(n for n, _ in data),
                        tuple(t for _, t in data),
                    ),
                )
        return out

    def event_topic(self, name: str) -> bytes:
        for topic, codec in self._events.items():
            if codec.name == name:
                return topic
        raise KeyError(name)

    def decode_error(self, data: bytes) -> ContractError | None:
        """Decode revert data into a `ContractError`, or None if it is not a known error."""
        selector, payload = bytes(data[:4]), bytes(data[4:])
        if selector == _ERROR:
            (reason,) = abi_decode(["string"], payload)
            return ContractError("Error", {"reason": reason})
        if selector == _PANIC:
            (code,) = abi_decode(["uint256"], payload)
            return ContractError("Panic", {"code": code})
        codec = self._errors.get(selector)
        if codec is None:
            return None
        values = _checksum(codec.types, abi_decode(list(codec.types), payload))
        return ContractError(
            codec.name, dict(zip(codec.names, values, strict=True)), contract=codec.contract
        )

    def decode_log(self, log: Mapping[str, Any]) -> DecodedEvent | None:
        """Decode one raw log (web3 or JSON-RPC shape); None for logs of unknown events."""
        topics = [as_bytes(t) for t in log["topics"]]
        if not topics:
            return None
        codec = self._events.get(topics[0])
        if codec is None:
            return None
        args: dict[str, Any] = {}
        for (name, kind), topic in zip(codec.indexed, topics[1:], strict=True):
            args[name] = (
                _checksum((kind,), abi_decode([kind], topic))[0] if _is_static(kind) else topic
            )
        values = _checksum(
            codec.data_types, abi_decode(list(codec.data_types), as_bytes(log["data"]))
        )
        args.update(zip(codec.data_names, values, strict=True))
        return DecodedEvent.of(log, contract=codec.contract, name=codec.name, args=args)

    def decode_logs(self, logs: Iterable[Mapping[str, Any]]) -> list[DecodedEvent]:
        return [e for e in (self.decode_log(log) for log in logs) if e is not None]


def _checksum(types: Sequence[str], values: Sequence[Any]) -> list[Any]:
    return [
        to_checksum_address(v) if t == "address" else v for t, v in zip(types, values, strict=True)
    ]


def _is_static(kind: str) -> bool:
    return not (kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("("))


def as_bytes(value: Any) -> bytes:
    """A JSON-RPC DATA value (0x-hex string) or raw bytes, as bytes."""
    if isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return bytes(value)


def as_int(value: Any) -> int:
    """A JSON-RPC QUANTITY (0x-hex string) or an int, as int."""
    return int(value, 16) if isinstance(value, str) else int(value)
