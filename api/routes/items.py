"""Items: partner operations on units and containers and partner-scoped reads, all for the
signed-in member, the HTTP face of `domain.items` (products and lots: `api.routes.devices`).

Writes: commission, containers (create, pack, unpack), shipments (ship units, cases,
pallets and loose lot quantities; receive/reject with the acceptance record, cancel),
dispense, quarantine/release, destroy (loose quantities and cases: `api.routes.lots`,
mounted here; adverse events: `api.routes.adverse_events`), and raw transactions the
member signed itself. Ship, receive and cancel take either the member's own EIP-712
signature (relayed) or use its custodial key; the other operations use the custodial
key, or the member submits its own signed transaction to POST /v1/partner/transactions. A
ledger rule violation is problem+json named after the Solidity error. A write answers once
the read model shows it, or with `indexed: false` when it has not caught up in time
(`domain.read_your_writes`).

Reads are scoped per object: inventory is the member's own stock, an item's history is
shown only to a member that holds or has held it, a shipment only to its sender or
receiver (a regulator sees everything).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from medledger.api.routes import acceptance, lots, qualification
from medledger.api.routes.trace import history_out
from medledger.domain import items, orders
from medledger.domain.api_examples import LOT_STOCK_EXAMPLE
from medledger.domain.auth import Member
from medledger.domain.chain import reader, vault
from medledger.domain.chain import transaction_status as chain_status
from medledger.domain.lot_stock import Hold, holds_of, lot_stock_of, stock_holds
from medledger.domain.partner_schemas import (
    PROBLEMS,
    CancelIn,
    CommissionIn,
    ContainerIn,
    EventOut,
    HistoryStepOut,
    HoldOut,
    InventoryLineOut,
    ItemsIn,
    NonceOut,
    OperationOut,
    PackIn,
    RawTransactionIn,
    ReceiveIn,
    ShipIn,
    ShipmentOut,
    TransactionStatusOut,
    at_time,
    celsius,
    hexs,
    on_day,
    party,
)
from medledger.indexer.queries.shipments import ShipmentRow
from medledger.indexer.queries.stock import inventory as inventory_query
from medledger.sdk.dates import consortium_zone
from medledger.sdk.model import ItemStatus, ShipmentStatus
from medledger.web.codes import CodeParam
from medledger.web.deps import ConnDep, ServicesDep
from medledger.web.members import CurrentMember
from medledger.web.pagination import Limit, Offset

__all__ = ["router"]

router = APIRouter(prefix="/v1/partner", tags=["partner"], responses=PROBLEMS)
router.include_router(lots.router)  # loose lot quantities and cases
router.include_router(qualification.router)  # approval files (首营企业/首营品种)
router.include_router(acceptance.router)  # acceptance records (验收记录)
ShipmentId = Annotated[int, Path(ge=1, le=2**64 - 1)]


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


# ------------------------------------------------------------------ items


@router.post("/commission", response_model=OperationOut, status_code=201)
def commission(body: CommissionIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    return items.commission(services, member=member, units=body)


@router.post("/containers", response_model=OperationOut, status_code=201)
def create_container(
    body: ContainerIn, member: CurrentMember, services: ServicesDep
) -> OperationOut:
    return items.create_container(services, member=member, container=body)


@router.post("/containers/{container_id:path}/pack", response_model=OperationOut)
def pack(
    container_id: CodeParam, body: PackIn, member: CurrentMember, services: ServicesDep
) -> OperationOut:
    return items.pack(services, member=member, container_id=container_id, items=body)


@router.post("/containers/{container_id:path}/unpack", response_model=OperationOut)
def unpack(container_id: CodeParam, member: CurrentMember, services: ServicesDep) -> OperationOut:
    return items.unpack(services, member=member, container_id=container_id)


@router.post("/items/dispense", response_model=OperationOut)
def dispense(body: ItemsIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    return items.dispense(services, member=member, items=body)


@router.post("/items/quarantine", response_model=OperationOut)
def quarantine(body: ItemsIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    return items.quarantine(services, member=member, items=body)


@router.post("/items/release", response_model=OperationOut)
def release(body: ItemsIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    return items.release(services, member=member, items=body)


@router.post("/items/destroy", response_model=OperationOut)
def destroy(body: ItemsIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    return items.destroy(services, member=member, items=body)


# ------------------------------------------------------------------ shipments


@router.post("/shipments", response_model=OperationOut, status_code=201)
def ship(body: ShipIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    return items.ship(services, member=member, order=body)


@router.post("/shipments/{shipment_id}/receive", response_model=OperationOut)
def receive(
    shipment_id: ShipmentId, body: ReceiveIn, member: CurrentMember, services: ServicesDep
) -> OperationOut:
    """Accept (or reject `rejected_ids` of) a shipment addressed to you, with the
    acceptance record: temperature min/max, excursion seconds, inspection hash."""
    return items.receive(services, member=member, shipment_id=shipment_id, order=body)


@router.post("/shipments/{shipment_id}/cancel", response_model=OperationOut)
def cancel(
    shipment_id: ShipmentId, body: CancelIn, member: CurrentMember, services: ServicesDep
) -> OperationOut:
    return items.cancel(services, member=member, shipment_id=shipment_id, order=body)


@router.post("/transactions", response_model=OperationOut, status_code=201)
def transaction(
    body: RawTransactionIn, member: CurrentMember, services: ServicesDep
) -> OperationOut:
    """Submit a transaction the member signed itself (any MedLedger contract call): the
    sender must be the signed-in member."""
    return items.transaction(services, member=member, raw_transaction=body.raw_transaction)


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
    """Your own stock (active, in transit or quarantined), per lot and status, with its
    holds (`recalled` with the recall's id and level, `quarantined`)."""
    recalls = stock_holds(conn, member.address)
    lines = []
    for line in inventory_query(conn, member.address):
        holds = _holds(
            holds_of(
                recalls,
                line.gtin,
                line.lot_number,
                quarantined=line.status is ItemStatus.QUARANTINED,
            )
        )
        lines.append(
            InventoryLineOut(
                gtin=line.gtin,
                lot_number=line.lot_number,
                expiry=on_day(line.expiry),
                status=line.status.name.lower(),
                units=line.units,
                recalled=_recall_id(holds) is not None,
                recall_id=_recall_id(holds),
                holds=holds,
            )
        )
    return lines


def _holds(holds: list[Hold]) -> list[HoldOut]:
    return [HoldOut(kind=h.kind, recall_id=h.recall_id, level=h.level) for h in holds]


def _recall_id(holds: list[HoldOut]) -> int | None:
    return next((h.recall_id for h in holds if h.kind == "recalled"), None)


class LotStockOut(BaseModel):
    """Your units of one lot tracked by quantity (not serialised)."""

    model_config = ConfigDict(json_schema_extra={"examples": [LOT_STOCK_EXAMPLE]})

    gtin: str
    name_zh: str | None = Field(description="from the product's master data, if anchored")
    name_en: str | None
    model: str | None
    lot_number: str
    expiry: dt.date = Field(description="the lot's expiry date (YYYY-MM-DD, consortium zone)")
    active: int = Field(description="loose units in usable stock")
    quarantined: int = Field(description="loose units on hold")
    in_transit: int = Field(description="loose units you shipped, not yet settled")
    cases: int = Field(description="cases you hold (active, in transit or quarantined)")
    case_units: int = Field(description="units inside those cases")
    total: int
    recalled: bool = Field(description="an open recall covers the lot")
    recall_id: int | None = Field(description="the open recall's id, when recalled")
    holds: list[HoldOut] = Field(default_factory=list)


@router.get("/inventory/lots", response_model=list[LotStockOut])
def lot_inventory(member: CurrentMember, services: ServicesDep, conn: ConnDep) -> list[LotStockOut]:
    """Your own stock of lot-tracked devices, in units per lot, soonest expiry first,
    with its holds (`recalled` with the recall's id and level, `quarantined`)."""
    recalls = stock_holds(conn, member.address)
    lines = []
    for s in lot_stock_of(services, conn, member.address):
        holds = _holds(
            holds_of(recalls, s.line.gtin, s.line.lot_number, quarantined=s.line.quarantined > 0)
        )
        lines.append(
            LotStockOut(
                gtin=s.line.gtin,
                name_zh=s.name_zh,
                name_en=s.name_en,
                model=s.model,
                lot_number=s.line.lot_number,
                expiry=on_day(s.line.expiry),
                active=s.line.active,
                quarantined=s.line.quarantined,
                in_transit=s.line.in_transit,
                cases=s.line.cases,
                case_units=s.line.case_units,
                total=s.line.total,
                recalled=_recall_id(holds) is not None,
                recall_id=_recall_id(holds),
                holds=holds,
            )
        )
    return lines


@router.get("/items/{item_id:path}/history", response_model=list[HistoryStepOut])
def item_history(item_id: CodeParam, member: CurrentMember, conn: ConnDep) -> list[HistoryStepOut]:
    """The full history of an item you hold or have held (404 otherwise), named by its id
    or any GS1 code form (see `CodeParam`)."""
    return history_out(conn, items.item_history(conn, member=member, item_id=item_id))


def _shipment_out(r: ShipmentRow, member: Member) -> ShipmentOut:
    direction = None
    if not member.is_regulator:
        direction = "outbound" if r.sender.address == member.address else "inbound"
    return ShipmentOut(
        shipment_id=r.shipment_id,
        sender=party(r.sender.address, r.sender.name),
        receiver=party(r.receiver.address, r.receiver.name),
        direction=direction,
        status=r.status.name.lower(),
        item_count=r.item_count,
        document_hash=hexs(r.document_hash),
        sent_block=r.sent_block,
        sent_at=None if r.sent_at is None else at_time(r.sent_at),
        settled_block=r.settled_block,
        settled_at=None if r.settled_at is None else at_time(r.settled_at),
        accepted_count=r.accepted_count,
        rejected_count=r.rejected_count,
        temperature_min=celsius(r.temp_min),
        temperature_max=celsius(r.temp_max),
        excursion_seconds=r.excursion_seconds,
        quarantined=r.quarantined,
    )


@router.get("/shipments", response_model=list[ShipmentOut])
def shipments(
    member: CurrentMember,
    conn: ConnDep,
    services: ServicesDep,
    limit: Limit,
    offset: Offset,
    status: Annotated[
        Literal["in_transit", "received", "rejected", "cancelled"] | None,
        Query(description="only shipments in this status"),
    ] = None,
    direction: Annotated[
        Literal["inbound", "outbound"] | None,
        Query(description="inbound: addressed to you; outbound: sent by you"),
    ] = None,
    since: Annotated[
        dt.datetime | None,
        Query(
            description="only shipments sent at or after this ISO 8601 date-time (without "
            "an offset: the consortium's zone)",
            examples=["2026-12-01T00:00:00+08:00"],
        ),
    ] = None,
) -> list[ShipmentOut]:
    """Your shipments, outbound and inbound, newest first; filtered by `status`,
    `direction` and `since` when given."""
    limit = min(limit, services.settings.max_page_size)
    rows = items.shipments(
        conn,
        member=member,
        limit=limit,
        offset=offset,
        status=None if status is None else ShipmentStatus[status.upper()],
        direction=direction,
        since=None if since is None else _unix(since),
    )
    return [_shipment_out(r, member) for r in rows]


def _unix(when: dt.datetime) -> int:
    aware = when if when.tzinfo is not None else when.replace(tzinfo=consortium_zone())
    return int(aware.timestamp())


@router.get("/shipments/{shipment_id}", response_model=ShipmentOut)
def shipment(shipment_id: ShipmentId, member: CurrentMember, conn: ConnDep) -> ShipmentOut:
    return _shipment_out(items.shipment(conn, member=member, shipment_id=shipment_id), member)
