"""Fast log decoding for the indexer's hot path.

`sdk.abi.AbiCodec` is the reference decoder. Profiling ingest showed eth_abi's generic
decoders and per-value address checksumming taking half the time, so `LogDecoder` decodes
the few ABI types our events use (uintN, intN, bool, address, bytesN, string, bytes32[],
string[]) by slicing words directly, caches checksummed addresses, and falls back to
`AbiCodec` for any other shape. Its output equals AbiCodec's (tests/indexer/test_decode.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak, to_checksum_address

from medledger.sdk.abi import AbiCodec, DecodedEvent, abi_type, as_bytes
from medledger.sdk.compiler import ContractArtifact, load_artifacts
from medledger.sdk.deploy import CONTRACT_NAMES

__all__ = ["LogDecoder"]

_DYNAMIC = {"string", "bytes32[]", "string[]"}


def _supported(kind: str) -> bool:
    if kind in _DYNAMIC or kind in ("address", "bool"):
        return True
    if kind.startswith(("uint", "int")):
        return True
    return kind.startswith("bytes") and kind[5:].isdigit()


@dataclass(frozen=True, slots=True)
class _Shape:
    contract: str
    name: str
    indexed: tuple[tuple[str, str], ...]
    data_names: tuple[str, ...]
    data_types: tuple[str, ...]
    fast: bool


class LogDecoder:
    """Decodes raw logs of the contract suite into `DecodedEvent`s."""

    def __init__(self, artifacts: dict[str, ContractArtifact] | None = None) -> None:
        arts = artifacts or load_artifacts()
        abis = {name: arts[name].abi for name in CONTRACT_NAMES}
        self.codec = AbiCodec(abis)
        self._shapes: dict[bytes, _Shape] = {}
        self._addresses: dict[bytes, str] = {}
        for contract, abi in abis.items():
            for entry in abi:
                if entry["type"] != "event" or entry.get("anonymous"):
                    continue
                inputs = entry["inputs"]
                types = [abi_type(p) for p in inputs]
                topic = keccak(text=f"{entry['name']}({','.join(types)})")
                indexed = tuple(
                    (p["name"], t) for p, t in zip(inputs, types, strict=True) if p["indexed"]
                )
                data = [
                    (p["name"], t) for p, t in zip(inputs, types, strict=True) if not p["indexed"]
                ]
                fast = all(_supported(t) for t in types) and all(
                    t not in _DYNAMIC for _, t in indexed
                )
                self._shapes.setdefault(
                    topic,
                    _Shape(
                        contract,
                        entry["name"],
                        indexed,
                        tuple(n for n, _ in data),
                        tuple(t for _, t in data),
                        fast,
                    ),
                )

    def _address(self, raw: bytes) -> str:
        found = self._addresses.get(raw)
        if found is None:
            found = to_checksum_address(raw)
            self._addresses[raw] = found
        return found

    def _static(self, kind: str, word: bytes) -> Any:
        if kind == "address":
            return self._address(word[12:])
        if kind == "bool":
            return word[31] != 0
        if kind.startswith("uint"):
            return int.from_bytes(word, "big")
        if kind.startswith("int"):
            return int.from_bytes(word, "big", signed=True)
        return word[: int(kind[5:])]

    def _data(self, types: Sequence[str], data: bytes) -> list[Any]:
        out: list[Any] = []
        for i, kind in enumerate(types):
            head = data[32 * i : 32 * i + 32]
            if kind not in _DYNAMIC:
                out.append(self._static(kind, head))
                continue
            offset = int.from_bytes(head, "big")
            count = int.from_bytes(data[offset : offset + 32], "big")
            base = offset + 32
            if kind == "string":
                out.append(data[base : base + count].decode("utf-8"))
            elif kind == "bytes32[]":
                out.append(tuple(data[base + 32 * j : base + 32 * j + 32] for j in range(count)))
            else:  # string[]: a head of offsets relative to `base`, then each string
                items = []
                for j in range(count):
                    at = base + int.from_bytes(data[base + 32 * j : base + 32 * j + 32], "big")
                    size = int.from_bytes(data[at : at + 32], "big")
                    items.append(data[at + 32 : at + 32 + size].decode("utf-8"))
                out.append(tuple(items))
        return out

    def decode_log(self, log: Mapping[str, Any]) -> DecodedEvent | None:
        topics = [as_bytes(t) for t in log["topics"]]
        if not topics:
            return None
        shape = self._shapes.get(topics[0])
        if shape is None:
            return None
        if not shape.fast:
            return self.codec.decode_log(log)
        args: dict[str, Any] = {
            name: self._static(kind, topic)
            for (name, kind), topic in zip(shape.indexed, topics[1:], strict=True)
        }
        values = self._data(shape.data_types, as_bytes(log["data"]))
        args.update(zip(shape.data_names, values, strict=True))
        return DecodedEvent.of(log, contract=shape.contract, name=shape.name, args=args)

    def decode_logs(self, logs: Iterable[Mapping[str, Any]]) -> list[DecodedEvent]:
        return [e for e in (self.decode_log(log) for log in logs) if e is not None]
