"""The regulator's check of a sealed record against the chain: open the record (its salt
and canonical body, `records.opening`), find the event argument that carries its
commitment in the transaction that anchored it, and recompute the commitment from the
opening (`records.matches`). Anyone but a regulator gets 404, as for a record that does
not exist."""

from __future__ import annotations

from dataclasses import dataclass

from medledger.domain import records
from medledger.domain.auth import Member
from medledger.domain.errors import NotFound
from medledger.domain.services import Services

__all__ = ["RecordCheck", "check_record"]


@dataclass(frozen=True, slots=True)
class RecordCheck:
    record_id: str
    kind: str
    commitment: bytes
    anchored_tx: str | None
    event: str | None  # the event whose argument carries the commitment
    argument: str | None
    block_number: int | None
    matches: bool  # the opening recomputes the on-chain value


def check_record(services: Services, record_id: str, *, member: Member) -> RecordCheck:
    if not member.is_regulator:
        raise NotFound("record_not_found", f"no record {record_id[:80]!r} shared with you")
    view = records.read(services, record_id, reader=member.address, regulator=True)
    record = view.record
    salt, plaintext = records.opening(services, record_id)
    event = argument = None
    block = None
    on_chain: bytes | None = None
    if record.anchored_tx is not None:
        receipt = services.w3.eth.get_transaction_receipt(record.anchored_tx)  # type: ignore[arg-type]
        block = int(receipt["blockNumber"])
        for decoded in services.codec.decode_logs(receipt["logs"]):
            for name, value in decoded.args.items():
                if isinstance(value, bytes | bytearray) and bytes(value) == record.commitment:
                    event, argument, on_chain = decoded.name, name, bytes(value)
                    break
            if on_chain is not None:
                break
    return RecordCheck(
        record_id=record.id,
        kind=record.kind,
        commitment=record.commitment,
        anchored_tx=record.anchored_tx,
        event=event,
        argument=argument,
        block_number=block,
        matches=on_chain is not None and records.matches(on_chain, salt, plaintext),
    )
