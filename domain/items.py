"""Items: units and containers, and their custody.

Writes (commission, containers, pack/unpack, ship/receive/cancel, dispense, quarantine,
release, destroy, a transaction the member signed itself) act for one
member and answer once the read model shows them (`domain.read_your_writes`). Reads are
scoped to the member: its own stock, the history of an item it holds or has held, the
shipments it sent or received (a regulator sees everything).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy.engine import Connection

from medledger.domain import acceptance, lot_custody, orders, records
from medledger.domain.auth import Member
from medledger.domain.chain import reader, submit_raw
from medledger.domain.codes import item_key_of
from medledger.domain.devices import member_ledger
from medledger.domain.errors import NotFound, Unprocessable
from medledger.domain.orders import report
from medledger.domain.partner_schemas import (
    CancelIn,
    CommissionIn,
    ContainerIn,
    ItemsIn,
    OperationOut,
    PackIn,
    ReceiveIn,
    ShipIn,
    hexs,
)
from medledger.domain.read_your_writes import settled
from medledger.domain.record_notes import anchored, check_sites, note_commitment
from medledger.domain.records import RecordKind
from medledger.domain.services import Services
from medledger.domain.unit_records import anchor_sealed
from medledger.indexer.queries.shipments import ShipmentRow, shipments_of
from medledger.indexer.queries.shipments import shipment as shipment_row
from medledger.indexer.queries.trace import HistoryStep, unit_history
from medledger.sdk.ledger import Ledger, TxResult
from medledger.sdk.model import ShipmentState, ShipmentStatus

__all__ = [
    "cancel",
    "commission",
    "create_container",
    "destroy",
    "dispense",
    "item_history",
    "pack",
    "parse_id",
    "party_shipment",
    "quarantine",
    "receive",
    "release",
    "ship",
    "shipment",
    "shipments",
    "transaction",
    "unpack",
]

Op = Callable[[Ledger], TxResult[Any]]


def _custodial(services: Services, member: Member, op: Op, **extra: Any) -> OperationOut:
    result = op(member_ledger(services, member))
    return settled(services, report(result, signed_by="custodial", **extra))


def parse_id(value: str, what: str) -> bytes:
    """The 32-byte id in `value` (0x hex), or 404 `<what>_not_found`."""
    text_ = value.removeprefix("0x")
    try:
        data = bytes.fromhex(text_)
    except ValueError:
        data = b""
    if len(data) != 32:
        raise NotFound(f"{what}_not_found", f"{value[:80]!r} is not a 32-byte hex {what} id")
    return data


# ------------------------------------------------------------------ units and containers


def commission(services: Services, *, member: Member, units: CommissionIn) -> OperationOut:
    result = member_ledger(services, member).commission(units.lot_key, units.serials)
    out = report(result, signed_by="custodial", item_ids=[hexs(i) for i in result.value])
    return settled(services, out)


def create_container(services: Services, *, member: Member, container: ContainerIn) -> OperationOut:
    result = member_ledger(services, member).create_container(
        container.sscc, company_prefix=container.company_prefix
    )
    out = report(result, signed_by="custodial", container_id=hexs(result.value))
    return settled(services, out)


def pack(services: Services, *, member: Member, container_id: str, items: PackIn) -> OperationOut:
    cid = item_key_of(container_id)
    return _custodial(services, member, lambda lg: lg.pack(cid, items.item_ids))


def unpack(services: Services, *, member: Member, container_id: str) -> OperationOut:
    cid = item_key_of(container_id)
    result = member_ledger(services, member).unpack(cid)
    out = report(result, signed_by="custodial", item_ids=[hexs(i) for i in result.value])
    return settled(services, out)


def _noted(services: Services, member: Member, kind: RecordKind, items: ItemsIn) -> Any:
    return note_commitment(
        services,
        author=member.address,
        kind=kind,
        subject_id=items.item_ids[0],
        record=items.record,
        given=items.record_hash,
        extra={"item_ids": [hexs(i) for i in items.item_ids]},
    )


def dispense(services: Services, *, member: Member, items: ItemsIn) -> OperationOut:
    record, sealed = _noted(services, member, RecordKind.DISPENSE, items)
    out = _custodial(services, member, lambda lg: lg.dispense(items.item_ids, record_hash=record))
    return anchored(services, sealed, out)


def quarantine(services: Services, *, member: Member, items: ItemsIn) -> OperationOut:
    reason, sealed = _noted(services, member, RecordKind.QUARANTINE, items)
    out = _custodial(services, member, lambda lg: lg.quarantine(items.item_ids, reason_hash=reason))
    return anchored(services, sealed, out)


def release(services: Services, *, member: Member, items: ItemsIn) -> OperationOut:
    """Release quarantined units; a release record (the call carries no hash) is sealed
    and anchored on its own (`Records.anchorDocument`)."""
    _, sealed = _noted(services, member, RecordKind.RELEASE, items)
    out = _custodial(services, member, lambda lg: lg.release(items.item_ids))
    if sealed is None:
        return out
    anchor_sealed(services, member=member, record=sealed)
    return out.model_copy(update={"record_id": sealed.id})


def destroy(services: Services, *, member: Member, items: ItemsIn) -> OperationOut:
    record, sealed = _noted(services, member, RecordKind.DESTRUCTION, items)
    out = _custodial(services, member, lambda lg: lg.destroy(items.item_ids, record_hash=record))
    return anchored(services, sealed, out)


def transaction(services: Services, *, member: Member, raw_transaction: bytes) -> OperationOut:
    """Submit a transaction the member signed itself (any MedLedger contract call): the
    sender must be the member."""
    sent = submit_raw(
        services, raw_transaction, member=member.address, sees_all=member.is_regulator
    )
    out = orders.report_events(
        sent.tx_hash, sent.block_number, sent.events, signed_by="member (raw)"
    )
    return settled(services, out)


# ------------------------------------------------------------------ shipments


def party_shipment(
    services: Services, *, member: Member, shipment_id: int, receiving: bool = False
) -> ShipmentState:
    """The shipment as the chain has it now (not only the index: one sent a moment ago
    counts), if the member is its receiver or (unless `receiving`) its sender; else 404
    `shipment_not_found`, as for one that does not exist, so the state and parties of
    others' shipments stay theirs. A regulator is party to every shipment it may send."""
    state = reader(services).shipment(shipment_id)
    parties = (state.receiver,) if receiving else (state.sender, state.receiver)
    sees_all = member.is_regulator and not receiving
    if state.status is ShipmentStatus.NONE or not (sees_all or member.address in parties):
        side = "inbound shipment" if receiving else "shipment"
        raise NotFound("shipment_not_found", f"no {side} {shipment_id} of yours")
    return state


def ship(services: Services, *, member: Member, order: ShipIn) -> OperationOut:
    """Ship root items and loose lot quantities; a quantity the member does not hold
    Active is refused (409 `lot_quantity_unavailable`) before the order is signed."""
    lot_custody.check_available(services, holder=member.address, lots=order.lots)
    if order.record is None:
        return settled(services, orders.ship(services, member, order))
    _custodial_only(order.signature)
    check_sites(services, order.record, sender=member.address, receiver=order.receiver)
    subject = order.item_ids[0] if order.item_ids else order.lots[0].lot_key
    doc, sealed = note_commitment(
        services,
        author=member.address,
        kind=RecordKind.SHIPMENT_NOTE,
        subject_id=subject,
        record=order.record,
        given=None,
        readers=[order.receiver],
    )
    sent = orders.ship(services, member, order.model_copy(update={"document_hash": doc}))
    return settled(services, anchored(services, sealed, sent))


def _custodial_only(signature: bytes | None) -> None:
    """A signed order carries the hash its signer signed: no record to seal there."""
    if signature is not None:
        raise Unprocessable(
            "record_needs_custodial_key",
            "an order you sign yourself carries your own (salted) hash, not a `record`",
        )


def receive(
    services: Services, *, member: Member, shipment_id: int, order: ReceiveIn
) -> OperationOut:
    """Accept (or reject `rejected_ids` of) a shipment addressed to the member, with the
    acceptance record: temperature min/max, excursion seconds, inspection hash."""
    state = party_shipment(services, member=member, shipment_id=shipment_id)
    if order.acceptance is None:
        return settled(services, orders.receive(services, member, shipment_id, order))
    if order.inspection_hash is not None or order.signature is not None:
        raise Unprocessable(
            "acceptance_with_hash",
            "send either the acceptance record or an inspection hash you signed, not both",
        )
    record = acceptance.seal_acceptance(
        services, member=member, shipment=state, record=order.acceptance
    )
    sealed = order.model_copy(update={"inspection_hash": record.commitment, "acceptance": None})
    out = orders.receive(services, member, shipment_id, sealed)
    records.set_anchor(services, record.id, out.tx_hash)
    return settled(services, out)


def cancel(
    services: Services, *, member: Member, shipment_id: int, order: CancelIn
) -> OperationOut:
    state = party_shipment(services, member=member, shipment_id=shipment_id)
    if order.record is None:
        return settled(services, orders.cancel(services, member, shipment_id, order))
    _custodial_only(order.signature)
    reason, sealed = note_commitment(
        services,
        author=member.address,
        kind=RecordKind.CANCELLATION,
        subject_id=shipment_id.to_bytes(32, "big"),
        record=order.record,
        given=None,
        readers=[state.sender, state.receiver],
        extra={"shipment_id": shipment_id},
    )
    cancelled = orders.cancel(
        services, member, shipment_id, order.model_copy(update={"reason_hash": reason})
    )
    return settled(services, anchored(services, sealed, cancelled))


# ------------------------------------------------------------------ scoped reads


def item_history(conn: Connection, *, member: Member, item_id: str) -> list[HistoryStep]:
    """The full history of an item the member holds or has held (404 otherwise)."""
    key = item_key_of(item_id)
    steps = unit_history(conn, key)
    if not steps or not (member.is_regulator or any(s.holder == member.address for s in steps)):
        raise NotFound("item_not_found", f"no item {item_id} among the items you hold or held")
    return steps


def shipments(
    conn: Connection,
    *,
    member: Member,
    limit: int,
    offset: int,
    status: ShipmentStatus | None = None,
    direction: Literal["inbound", "outbound"] | None = None,
    since: int | None = None,
) -> list[ShipmentRow]:
    """The member's shipments (`direction`: only inbound or outbound), newest first."""
    return shipments_of(
        conn,
        member.address,
        side=direction or "either",
        limit=limit,
        offset=offset,
        status=status,
        since=since,
    )


def shipment(conn: Connection, *, member: Member, shipment_id: int) -> ShipmentRow:
    row = shipment_row(conn, shipment_id)
    parties = () if row is None else (row.sender.address, row.receiver.address)
    if row is None or not (member.is_regulator or member.address in parties):
        raise NotFound("shipment_not_found", f"no shipment {shipment_id} of yours")
    return row
