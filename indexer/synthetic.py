"""Synthetic chains for tests and benchmarks: `SyntheticChain`, an in-memory `LogSource` of
blocks of raw logs, and `LogBackend`, which emits the supply-chain plan of
`ops.bench.supply_chain` as the ABI-encoded logs the contracts would emit (the
topics and layouts come from the compiled ABIs), so the indexer ingests them through its
own decode-and-write path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from medledger.indexer.source import BlockRef
from medledger.sdk.abi import abi_type
from medledger.sdk.compiler import ContractArtifact, load_artifacts
from medledger.sdk.deploy import CONTRACT_NAMES, Deployment
from medledger.sdk.model import LicenceKind, Role, class_mask

__all__ = ["LogBackend", "SyntheticChain", "synthetic_deployment"]

DAY = 24 * 3600


class SyntheticChain:
    """An in-memory chain of blocks of raw logs: a `LogSource` for the indexer.

    Blocks are numbered from 1 and contiguous; `fork(at)` returns a copy sharing blocks
    up to `at` whose later blocks get new hashes (a reorg, for tests).
    """

    def __init__(self, blocks: list[tuple[BlockRef, list[dict[str, Any]]]]) -> None:
        self.blocks = blocks

    def head(self) -> int:
        return self.blocks[-1][0].number if self.blocks else 0

    def block(self, number: int) -> BlockRef:
        return self.blocks[number - 1][0]

    def get_logs(
        self, from_block: int, to_block: int, addresses: Sequence[str]
    ) -> list[Mapping[str, Any]]:
        wanted = {a.lower() for a in addresses}
        out: list[Mapping[str, Any]] = []
        for _ref, logs in self.blocks[from_block - 1 : to_block]:
            out.extend(log for log in logs if log["address"].lower() in wanted)
        return out

    def item_events_estimate(self) -> int:
        return sum(len(logs) for _, logs in self.blocks)

    def fork(self, at: int, *, keep: int, salt: bytes = b"fork") -> SyntheticChain:
        """Blocks 1..`at` unchanged; blocks `at`+1..`keep` re-hashed with the same logs;
        then as many empty blocks as the original had beyond `keep`, so the fork is the
        same height (blocks after `keep` are dropped: their events never happened)."""
        out: list[tuple[BlockRef, list[dict[str, Any]]]] = list(self.blocks[:at])
        for ref, logs in self.blocks[at:]:
            new_hash = keccak(ref.hash + salt)
            new_ref = BlockRef(ref.number, new_hash, ref.timestamp)
            kept = [{**log, "blockHash": new_hash} for log in logs] if ref.number <= keep else []
            out.append((new_ref, kept))
        return SyntheticChain(out)


@dataclass(frozen=True, slots=True)
class _EventShape:
    address: str
    topic: bytes
    indexed: tuple[tuple[str, str], ...]
    data: tuple[tuple[str, str], ...]


class LogBackend:
    """The plan as ABI-encoded logs, as the contracts would emit them, in blocks of
    `logs_per_block`, one transaction per log."""

    def __init__(
        self,
        deployment: Deployment,
        *,
        artifacts: dict[str, ContractArtifact] | None = None,
        logs_per_block: int = 20,
        start_time: int = 1_780_000_000,
    ) -> None:
        arts = artifacts or load_artifacts()
        self.deployment = deployment
        self.shapes: dict[str, _EventShape] = {}
        for contract in CONTRACT_NAMES:
            for entry in arts[contract].abi:
                if entry["type"] != "event":
                    continue
                types = [abi_type(p) for p in entry["inputs"]]
                self.shapes[entry["name"]] = _EventShape(
                    address=deployment.address_of(contract),
                    topic=keccak(text=f"{entry['name']}({','.join(types)})"),
                    indexed=tuple(
                        (p["name"], t)
                        for p, t in zip(entry["inputs"], types, strict=True)
                        if p["indexed"]
                    ),
                    data=tuple(
                        (p["name"], t)
                        for p, t in zip(entry["inputs"], types, strict=True)
                        if not p["indexed"]
                    ),
                )
        self.logs_per_block = logs_per_block
        self.start_time = start_time
        self.blocks: list[tuple[BlockRef, list[dict[str, Any]]]] = []
        self._pending: list[dict[str, Any]] = []
        self._block_number = deployment.deployed_at_block
        self._members: dict[int, str] = {}
        self._shipments: dict[int, int] = {}
        self._counters = {"lot": 0, "shipment": 0, "recall": 0, "report": 0}
        self.item_events = 0

    # --------------------------------------------------------- plumbing

    def address(self, member: int) -> str:
        found = self._members.get(member)
        if found is None:
            found = to_checksum_address(keccak(text=f"member {member}")[-20:])
            self._members[member] = found
        return found

    def now(self) -> int:
        return self.start_time

    def emit(self, event: str, /, **args: Any) -> None:
        shape = self.shapes[event]
        topics = [shape.topic] + [encode([t], [args[n]]) for n, t in shape.indexed]
        data = encode([t for _, t in shape.data], [args[n] for n, _ in shape.data])
        self._pending.append({"address": shape.address, "topics": topics, "data": data})
        if len(self._pending) >= self.logs_per_block:
            self.seal()

    def seal(self) -> None:
        """Close the current block (empty if nothing is pending)."""
        number = self._block_number
        self._block_number += 1
        block_hash = keccak(text=f"synthetic block {number}")
        logs = [
            {
                **log,
                "blockNumber": number,
                "blockHash": block_hash,
                "transactionHash": keccak(block_hash + i.to_bytes(4, "big")),
                "logIndex": i,
            }
            for i, log in enumerate(self._pending)
        ]
        self._pending = []
        self.blocks.append((BlockRef(number, block_hash, self.start_time + 2 * number), logs))

    def chain(self) -> SyntheticChain:
        if self._pending:
            self.seal()
        return SyntheticChain(self.blocks)

    def _next(self, counter: str) -> int:
        self._counters[counter] += 1
        return self._counters[counter]

    # --------------------------------------------------------- the backend

    def admit(self, member: int, role: Role, name: str) -> None:
        self.emit(
            "MemberAdmitted",
            account=self.address(member),
            role=int(role),
            name=name,
            by=self.address(0),
        )

    def licence(self, member: int, kind: LicenceKind, valid_until: int) -> None:
        self.emit(
            "LicenceAttested",
            account=self.address(member),
            kind=int(kind),
            number=f"licence {member}",
            classMask=class_mask(1, 2, 3),
            validUntil=valid_until,
            authority="",
            scope=[],
            warehouseAddress="",
            province="",
            by=self.address(0),
        )

    def prefix(self, member: int, prefix: str) -> None:
        self.emit(
            "CompanyPrefixAssigned",
            account=self.address(member),
            prefix=prefix,
            by=self.address(0),
        )

    def product(self, member: int, gtin: str, prefix: str, expiry: int) -> None:
        self.emit(
            "ProductRegistered",
            gtin=gtin.encode(),
            manufacturer=self.address(member),
            deviceClass=2,
            tempMin=20,
            tempMax=250,
            certificateHash=keccak(text=f"certificate {gtin}"),
            registrationExpiry=expiry,
        )

    def lot(self, member: int, gtin: str, lot: str, expiry: int) -> bytes:
        lot_key = keccak(text=f"/01/{gtin}/10/{lot}")
        self.emit(
            "LotRegistered",
            lotKey=lot_key,
            gtin=gtin.encode(),
            lotIndex=self._next("lot"),
            lot=lot,
            productionDate=self.start_time - 30 * DAY,
            expiry=expiry,
            qcReleaseHash=bytes(32),
        )
        return lot_key

    def commission(self, member: int, lot_key: bytes, gtin: str, serials: list[str]) -> list[bytes]:
        ids = [keccak(text=f"/01/{gtin}/21/{s}") for s in serials]
        self.emit(
            "ItemsCommissioned",
            lotKey=lot_key,
            manufacturer=self.address(member),
            itemIds=ids,
            serials=serials,
        )
        self.item_events += len(ids)
        return ids

    def container(self, member: int, sscc: str, prefix: str) -> bytes:
        cid = keccak(text=f"/00/{sscc}")
        self.emit("ContainerCreated", containerId=cid, owner=self.address(member), sscc=sscc)
        return cid

    def pack(self, member: int, container: bytes, ids: list[bytes]) -> None:
        self.emit("ItemsPacked", containerId=container, holder=self.address(member), itemIds=ids)

    def unpack(self, member: int, container: bytes, ids: list[bytes]) -> None:
        self.emit("ItemsUnpacked", containerId=container, holder=self.address(member), itemIds=ids)

    def ship(self, sender: int, receiver: int, ids: list[bytes]) -> int:
        shipment = self._next("shipment")
        self._shipments[shipment] = sender
        self.emit(
            "ShipmentSent",
            shipmentId=shipment,
            sender=self.address(sender),
            receiver=self.address(receiver),
            itemIds=ids,
            documentHash=bytes(32),
            relayer=self.address(sender),
        )
        return shipment

    def receive(
        self, member: int, shipment: int, ids: list[bytes], rejected: list[bytes], excursion: int
    ) -> None:
        accepted = [i for i in ids if i not in rejected]
        self.emit(
            "ShipmentReceived",
            shipmentId=shipment,
            receiver=self.address(member),
            sender=self.address(self._shipments[shipment]),
            acceptedIds=accepted,
            rejectedIds=rejected,
            tempMin=50,
            tempMax=80,
            excursionSeconds=excursion,
            inspectionHash=bytes(32),
            quarantined=bool(excursion) and bool(accepted),
        )

    def release(self, member: int, ids: list[bytes]) -> None:
        self.emit("ItemsReleased", by=self.address(member), itemIds=ids)

    def dispense(self, member: int, ids: list[bytes]) -> None:
        self.emit(
            "ItemsDispensed",
            holder=self.address(member),
            itemIds=ids,
            recordHash=keccak(text="procedure"),
        )

    def recall(self, member: int, lot_key: bytes) -> None:
        self.emit(
            "RecallOpened",
            recallId=self._next("recall"),
            lotKey=lot_key,
            initiator=self.address(member),
            level=2,
            reasonHash=keccak(text="recall"),
        )

    def destroy(self, member: int, ids: list[bytes]) -> None:
        self.emit(
            "ItemsDestroyed",
            holder=self.address(member),
            itemIds=ids,
            recordHash=keccak(text="destruction"),
        )

    def report(self, member: int, subject: bytes, severity: int) -> None:
        self.emit(
            "AdverseEventReported",
            reportId=self._next("report"),
            subjectId=subject,
            reporter=self.address(member),
            severity=severity,
            reportHash=keccak(subject + b"report"),
        )

    def anchor(self, member: int, document: bytes, subject: bytes) -> None:
        self.emit(
            "DocumentAnchored",
            documentHash=document,
            subjectId=subject,
            by=self.address(member),
            kind=1,
        )


def synthetic_deployment() -> Deployment:
    """Fixed contract addresses for synthetic chains (deployed at block 1)."""
    return Deployment(
        chain_id=1337,
        **{n.lower(): to_checksum_address(keccak(text=n)[-20:]) for n in CONTRACT_NAMES},
        deployed_at_block=1,
    )
