"""Reconstructs one unit's custody trace straight from the chain's logs.

A small, honest stand-in for the indexer's unit-history query: it reads every Items
event with `eth_getLogs`, follows the unit into and out of containers, and reports each
step with its chain reference (block, transaction, log index).
"""

from __future__ import annotations

from dataclasses import dataclass

from medledger.sdk.abi import DecodedEvent
from medledger.sdk.ledger import Ledger

__all__ = ["TraceStep", "member_names", "unit_trace"]


@dataclass(frozen=True, slots=True)
class TraceStep:
    step: str
    actor: str
    holder: str
    via: bytes | None
    block: int
    tx_hash: str
    log_index: int


def _logs(ledger: Ledger, contract: str) -> list[DecodedEvent]:
    raw = ledger.w3.eth.get_logs(
        {
            "address": ledger.w3.to_checksum_address(ledger.deployment.address_of(contract)),
            "fromBlock": ledger.deployment.deployed_at_block,
            "toBlock": "latest",
        }
    )
    return ledger.codec.decode_logs(raw)


def member_names(ledger: Ledger) -> dict[str, str]:
    """Organisation name by address, from MemberAdmitted events."""
    return {
        e.args["account"]: e.args["name"]
        for e in _logs(ledger, "Partners")
        if e.name == "MemberAdmitted"
    }


def unit_trace(ledger: Ledger, item_id: bytes) -> list[TraceStep]:
    """Every custody step of `item_id`, including moves made by containers holding it."""
    steps: list[TraceStep] = []
    inside: set[bytes] = {item_id}  # the unit and the containers currently holding it
    holder = ""

    def add(event: DecodedEvent, step: str, actor: str, via: bytes | None) -> None:
        steps.append(
            TraceStep(
                step=step,
                actor=actor,
                holder=holder,
                via=via if via != item_id else None,
                block=event.block_number,
                tx_hash="0x" + event.transaction_hash.hex(),
                log_index=event.log_index,
            )
        )

    for e in _logs(ledger, "Items"):
        a = e.args
        if e.name == "ItemsCommissioned" and item_id in a["itemIds"]:
            holder = a["manufacturer"]
            add(e, "commissioned", a["manufacturer"], None)
        elif e.name == "ItemsPacked" and inside & set(a["itemIds"]):
            inside.add(bytes(a["containerId"]))
            add(e, "packed", a["holder"], bytes(a["containerId"]))
        elif e.name == "ItemsUnpacked" and bytes(a["containerId"]) in inside:
            if inside & set(a["itemIds"]):
                inside.discard(bytes(a["containerId"]))
                add(e, "unpacked", a["holder"], bytes(a["containerId"]))
        elif e.name == "ShipmentSent" and (hit := inside & set(a["itemIds"])):
            add(e, f"shipped (#{a['shipmentId']})", a["sender"], next(iter(hit)))
        elif e.name == "ShipmentReceived":
            accepted, rejected = inside & set(a["acceptedIds"]), inside & set(a["rejectedIds"])
            if accepted:
                holder = a["receiver"]
                outcome = "received, quarantined" if a["quarantined"] else "received"
                add(e, f"{outcome} (#{a['shipmentId']})", a["receiver"], next(iter(accepted)))
            elif rejected:
                add(e, f"rejected (#{a['shipmentId']})", a["receiver"], next(iter(rejected)))
        elif e.name == "ShipmentCancelled" and inside & set(a["itemIds"]):
            add(e, f"shipment cancelled (#{a['shipmentId']})", a["sender"], None)
        elif e.name in {"ItemsDispensed", "ItemsDestroyed"} and item_id in a["itemIds"]:
            add(e, e.name.removeprefix("Items").lower(), a["holder"], None)
        elif e.name in {"ItemsQuarantined", "ItemsReleased"} and inside & set(a["itemIds"]):
            add(e, e.name.removeprefix("Items").lower(), a["by"], None)
    return steps
