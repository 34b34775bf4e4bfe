"""Partner operations and partner-scoped reads, all for the signed-in member.

Writes: products and lots, commission, containers (create, pack, unpack), shipments (ship,
receive/reject with the acceptance record, cancel), dispense, quarantine/release, destroy,
recalls, adverse events, and raw transactions the member signed itself. Ship, receive and
cancel take either the member's own EIP-712 signature (relayed) or use its custodial key;
the other operations use the custodial key, or the member submits its own signed
transaction to POST /v1/partner/transactions. A ledger rule violation is problem+json named
after the Solidity error.

Reads are scoped per object: inventory is the member's own stock, an item's history is
shown only to a member that holds or has held it, a shipment only to its sender or
receiver (a regulator sees everything).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path
from sqlalchemy import text

from domain import orders
from domain.auth import Member
from domain.chain import custodial_ledger, reader, submit_raw, vault
from domain.chain import transaction_status as chain_status
from domain.errors import Forbidden, NotFound
from domain.partner_schemas import (
    PROBLEMS,
    AdverseEventIn,
    CancelIn,
    CommissionIn,
    ContainerIn,
    EventOut,
    HistoryStepOut,
    InventoryLineOut,
    ItemsIn,
    LotIn,
    NonceOut,
    OperationOut,
    PackIn,
    ProductIn,
    RawTransactionIn,
    RecallIn,
    ReceiveIn,
    ShipIn,
    ShipmentOut,
    TransactionStatusOut,
    hexs,
)
from domain.services import Services
from indexer.queries.stock import inventory as inventory_query
from indexer.queries.trace import unit_history
from sdk.ledger import Ledger, TxResult
from sdk.model import Role, ShipmentStatus
from web.deps import ConnDep, ServicesDep
from web.members import CurrentMember
from web.pagination import Limit, Offset

__all__ = ["router"]

router = APIRouter(prefix="/v1/partner", tags=["partner"], responses=PROBLEMS)
ZERO32 = bytes(32)
ShipmentId = Annotated[int, Path(ge=1, le=2**64 - 1)]
Op = Callable[[Ledger], TxResult[Any]]


def _ledger(services: Services, member: Member) -> Ledger:
    """The member's custodial handle; its refusals say only what the member may see."""
    return custodial_ledger(services, member.address, sees_all=member.is_regulator)


def _custodial(services: Services, member: Member, op: Op, **extra: Any) -> OperationOut:
    result = op(_ledger(services, member))
    return orders.report(result, signed_by="custodial", **extra)


def _parse_id(value: str, what: str) -> bytes:
    text_ = value.removeprefix("0x")
    try:
        data = bytes.fromhex(text_)
    except ValueError:
        data = b""
    if len(data) != 32:
        raise NotFound(f"{what}_not_found", f"{value[:80]!r} is not a 32-byte hex {what} id")
    return data


def _party_shipment(services: Services, member: Member, shipment_id: int) -> None:
    """404 unless the shipment exists on the chain (not only in the index: one sent a
    moment ago counts) and the member is its sender or receiver: a shipment of others
    answers as one that does not exist, so its state and parties stay theirs."""
    state = reader(services).shipment(shipment_id)
    if state.status is ShipmentStatus.NONE or not (
        member.is_regulator or member.address in (state.sender, state.receiver)
    ):
        raise NotFound("shipment_not_found", f"no shipment {shipment_id} of yours")


# ------------------------------------------------------------------ identity


@router.get("/nonce", response_model=NonceOut)
def nonce(member: CurrentMember, services: ServicesDep) -> NonceOut:
    """What a partner needs to sign an EIP-712 order: its next nonce and the domain."""
    ledger = reader(services)
    return NonceOut(
        address=member.address,
        nonce=ledger.nonce(member.address),
        domain=ledger.domain.as_dict(),
        has_custodial_key=vault(services).get(member.address) is not None,
    )


# ------------------------------------------------------------------ devices


@router.post("/products", response_model=OperationOut, status_code=201)
def register_product(body: ProductIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    return _custodial(
        services,
        member,
        lambda lg: lg.register_product(
            body.gtin,
            company_prefix=body.company_prefix,
            device_class=body.device_class,
            certificate_hash=body.certificate_hash,
            registration_expiry=body.registration_expiry,
            temp_min=body.temp_min,
            temp_max=body.temp_max,
        ),
    )


@router.post("/lots", response_model=OperationOut, status_code=201)
def register_lot(body: LotIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    result = _ledger(services, member).register_lot(
        body.gtin,
        body.lot,
        production_date=body.production_date,
        expiry=body.expiry,
        qc_release_hash=body.qc_release_hash or ZERO32,
    )
    return orders.report(result, signed_by="custodial", lot_key=hexs(result.value))


@router.post("/recalls", response_model=OperationOut, status_code=201)
def recall(body: RecallIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    """Manufacturer recall of one of its lots (regulator recalls are regulator routes)."""
    if member.role is not Role.MANUFACTURER:
        raise Forbidden("manufacturer_only", "only a manufacturer recalls through this route")
    result = _ledger(services, member).recall_lot(
        body.lot_key, level=body.level, reason_hash=body.reason_hash
    )
    return orders.report(result, signed_by="custodial", recall_id=result.value)


# ------------------------------------------------------------------ items


@router.post("/commission", response_model=OperationOut, status_code=201)
def commission(body: CommissionIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    result = _ledger(services, member).commission(body.lot_key, body.serials)
    return orders.report(result, signed_by="custodial", item_ids=[hexs(i) for i in result.value])


@router.post("/containers", response_model=OperationOut, status_code=201)
def create_container(
    body: ContainerIn, member: CurrentMember, services: ServicesDep
) -> OperationOut:
    result = _ledger(services, member).create_container(
        body.sscc, company_prefix=body.company_prefix
    )
    return orders.report(result, signed_by="custodial", container_id=hexs(result.value))


@router.post("/containers/{container_id}/pack", response_model=OperationOut)
def pack(
    container_id: str, body: PackIn, member: CurrentMember, services: ServicesDep
) -> OperationOut:
    cid = _parse_id(container_id, "container")
    return _custodial(services, member, lambda lg: lg.pack(cid, body.item_ids))


@router.post("/containers/{container_id}/unpack", response_model=OperationOut)
def unpack(container_id: str, member: CurrentMember, services: ServicesDep) -> OperationOut:
    cid = _parse_id(container_id, "container")
    result = _ledger(services, member).unpack(cid)
    return orders.report(result, signed_by="custodial", item_ids=[hexs(i) for i in result.value])


@router.post("/items/dispense", response_model=OperationOut)
def dispense(body: ItemsIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    record = body.record_hash or ZERO32
    return _custodial(services, member, lambda lg: lg.dispense(body.item_ids, record_hash=record))


@router.post("/items/quarantine", response_model=OperationOut)
def quarantine(body: ItemsIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    reason = body.record_hash or ZERO32
    return _custodial(services, member, lambda lg: lg.quarantine(body.item_ids, reason_hash=reason))


@router.post("/items/release", response_model=OperationOut)
def release(body: ItemsIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    return _custodial(services, member, lambda lg: lg.release(body.item_ids))


@router.post("/items/destroy", response_model=OperationOut)
def destroy(body: ItemsIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    record = body.record_hash or ZERO32
    return _custodial(services, member, lambda lg: lg.destroy(body.item_ids, record_hash=record))


@router.post("/adverse-events", response_model=OperationOut, status_code=201)
def adverse_event(
    body: AdverseEventIn, member: CurrentMember, services: ServicesDep
) -> OperationOut:
    """Report an adverse event about an item (unit or container) or a lot. The ledger
    takes it only from a member concerned by the subject: the item's holder (a hospital
    keeps the units it dispensed), the manufacturer of its lot, or the regulator; anything
    else, an unknown subject included, is 409 `RecordsNotConcerned`."""
    result = _ledger(services, member).report_adverse_event(
        body.subject_id, severity=body.severity, report_hash=body.report_hash
    )
    return orders.report(result, signed_by="custodial", report_id=result.value)


# ------------------------------------------------------------------ shipments


@router.post("/shipments", response_model=OperationOut, status_code=201)
def ship(body: ShipIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    return orders.ship(services, member, body)


@router.post("/shipments/{shipment_id}/receive", response_model=OperationOut)
def receive(
    shipment_id: ShipmentId, body: ReceiveIn, member: CurrentMember, services: ServicesDep
) -> OperationOut:
    """Accept (or reject `rejected_ids` of) a shipment addressed to you, with the
    acceptance record: temperature min/max, excursion seconds, inspection hash."""
    _party_shipment(services, member, shipment_id)
    return orders.receive(services, member, shipment_id, body)


@router.post("/shipments/{shipment_id}/cancel", response_model=OperationOut)
def cancel(
    shipment_id: ShipmentId, body: CancelIn, member: CurrentMember, services: ServicesDep
) -> OperationOut:
    _party_shipment(services, member, shipment_id)
    return orders.cancel(services, member, shipment_id, body)


@router.post("/transactions", response_model=OperationOut, status_code=201)
def transaction(
    body: RawTransactionIn, member: CurrentMember, services: ServicesDep
) -> OperationOut:
    """Submit a transaction the member signed itself (any MedLedger contract call): the
    sender must be the signed-in member."""
    sent = submit_raw(
        services, body.raw_transaction, member=member.address, sees_all=member.is_regulator
    )
    return orders.report_events(
        sent.tx_hash, sent.block_number, sent.events, signed_by="member (raw)"
    )


@router.get("/transactions/{tx_hash}", response_model=TransactionStatusOut)
def transaction_status(
    tx_hash: Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$")],
    member: CurrentMember,
    services: ServicesDep,
) -> TransactionStatusOut:
    """Where a write you sent stands (the `status_url` of a 202 answer): pending, mined
    with its events, failed with the ledger's refusal, or dropped by the node. A
    transaction that is not yours answers 404 as an unknown one."""
    found = chain_status(
        services, bytes.fromhex(tx_hash[2:]), member=member.address, sees_all=member.is_regulator
    )
    return TransactionStatusOut(
        tx_hash=found.tx_hash,
        status=found.state,
        block_number=found.block_number,
        events=[EventOut(name=e.name, args=orders.jsonable(e.args)) for e in found.events],
        error=None if found.error is None else orders.refusal(found.error),
    )


# ------------------------------------------------------------------ scoped reads


@router.get("/inventory", response_model=list[InventoryLineOut])
def inventory(member: CurrentMember, conn: ConnDep) -> list[InventoryLineOut]:
    """Your own stock (active, in transit or quarantined), per lot and status."""
    return [
        InventoryLineOut(
            gtin=line.gtin,
            lot_number=line.lot_number,
            expiry=line.expiry,
            status=line.status.name.lower(),
            units=line.units,
        )
        for line in inventory_query(conn, member.address)
    ]


@router.get("/items/{item_id}/history", response_model=list[HistoryStepOut])
def item_history(item_id: str, member: CurrentMember, conn: ConnDep) -> list[HistoryStepOut]:
    """The full history of an item you hold or have held (404 otherwise)."""
    key = _parse_id(item_id, "item")
    steps = unit_history(conn, key)
    if not steps or not (member.is_regulator or any(s.holder == member.address for s in steps)):
        raise NotFound("item_not_found", f"no item {item_id} among the items you hold or held")
    return [
        HistoryStepOut(
            kind=s.kind.name.lower(),
            block_number=s.block_number,
            timestamp=s.timestamp,
            tx_hash=hexs(s.tx_hash),
            log_index=s.log_index,
            holder=s.holder,
            status=s.status.name.lower(),
            parent=None if s.parent is None else hexs(s.parent),
            via=None if s.via is None else hexs(s.via),
            shipment_id=s.shipment_id,
        )
        for s in steps
    ]


_SHIPMENTS = (
    "SELECT s.id, so.address, ro.address, s.status, s.item_count, s.document_hash, "
    "s.sent_block, s.settled_block, s.accepted_count, s.rejected_count, s.temp_min, "
    "s.temp_max, s.excursion_seconds, s.quarantined FROM shipments s "
    "JOIN organisations so ON so.id = s.sender_id JOIN organisations ro ON ro.id = s.receiver_id "
)


def _shipment_out(r: Any) -> ShipmentOut:
    return ShipmentOut(
        shipment_id=int(r[0]),
        sender=str(r[1]),
        receiver=str(r[2]),
        status=ShipmentStatus(int(r[3])).name.lower(),
        item_count=int(r[4]),
        document_hash=hexs(bytes(r[5])),
        sent_block=int(r[6]),
        settled_block=r[7],
        accepted_count=r[8],
        rejected_count=r[9],
        temp_min=r[10],
        temp_max=r[11],
        excursion_seconds=r[12],
        quarantined=None if r[13] is None else bool(r[13]),
    )


@router.get("/shipments", response_model=list[ShipmentOut])
def shipments(
    member: CurrentMember,
    conn: ConnDep,
    services: ServicesDep,
    limit: Limit,
    offset: Offset,
) -> list[ShipmentOut]:
    """Your shipments, outbound and inbound, newest first."""
    limit = min(limit, services.settings.max_page_size)
    rows = conn.execute(
        text(
            _SHIPMENTS + "WHERE so.address = :a OR ro.address = :a "
            "ORDER BY s.id DESC LIMIT :limit OFFSET :offset"
        ),
        {"a": member.address, "limit": limit, "offset": offset},
    ).all()
    return [_shipment_out(r) for r in rows]


@router.get("/shipments/{shipment_id}", response_model=ShipmentOut)
def shipment(shipment_id: ShipmentId, member: CurrentMember, conn: ConnDep) -> ShipmentOut:
    row = conn.execute(text(_SHIPMENTS + "WHERE s.id = :id"), {"id": shipment_id}).first()
    if row is None or not (member.is_regulator or member.address in (row[1], row[2])):
        raise NotFound("shipment_not_found", f"no shipment {shipment_id} of yours")
    return _shipment_out(row)
