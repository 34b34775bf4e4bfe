"""Return orders, explants, service records and the records about a unit, the HTTP face of
`domain.returns`, `domain.service_records` and `domain.unit_records`; any sealed record
read back by id as a party, and the regulator's check of a record against the chain
(`domain.record_check`). Everyone but a record's parties gets 404."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from medledger.domain import (
    record_check,
    return_inspection,
    returns,
    service_records,
    unit_records,
)
from medledger.domain.api_examples import ADDRESS, ITEM_ID, TX_HASH, example
from medledger.domain.codes import item_key_of
from medledger.domain.partner_schemas import PROBLEMS, OperationOut, hexs
from medledger.domain.records import RecordView, SealedRecord
from medledger.web.codes import CodeParam
from medledger.web.deps import ServicesDep
from medledger.web.members import CurrentMember
from medledger.web.pagination import Limit, Offset

__all__ = ["router"]

router = APIRouter(prefix="/v1/partner", tags=["partner"], responses=PROBLEMS)
RECORD_EXAMPLE = {
    "id": "r_8f2c41d0",
    "kind": "service",
    "author": ADDRESS,
    "subject_id": ITEM_ID,
    "commitment": "0x" + "3c" * 32,
    "anchored_tx": TX_HASH,
    "created_at": 1796550000,
    "body": {"service_kind": "calibration", "performed_on": "2026-12-01", "note": "in tolerance"},
}
RecordId = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_-]+$")]


class RecordOut(BaseModel):
    model_config = example(RECORD_EXAMPLE)

    id: str
    kind: str
    author: str
    subject_id: str
    commitment: str
    anchored_tx: str | None
    created_at: int
    body: dict[str, Any]


class RecordsOut(BaseModel):
    model_config = example({"records": [RECORD_EXAMPLE]})

    records: list[RecordOut]


class RecordCheckOut(BaseModel):
    model_config = example(
        {
            "record_id": "r_8f2c41d0",
            "kind": "service",
            "commitment": "0x" + "3c" * 32,
            "anchored_tx": TX_HASH,
            "event": "DocumentAnchored",
            "argument": "0x" + "3c" * 32,
            "block_number": 512,
            "matches": True,
        }
    )

    record_id: str
    kind: str
    commitment: str
    anchored_tx: str | None
    event: str | None
    argument: str | None
    block_number: int | None
    matches: bool


def _out(record: SealedRecord, body: dict[str, Any]) -> RecordOut:
    return RecordOut(
        id=record.id,
        kind=record.kind,
        author=record.author,
        subject_id=hexs(record.subject_id),
        commitment=hexs(record.commitment),
        anchored_tx=record.anchored_tx,
        created_at=record.created_at,
        body=body,
    )


def _view(view: RecordView) -> RecordOut:
    return _out(view.record, dict(view.body))


@router.post("/returns", response_model=OperationOut, status_code=201)
def return_order(
    body: returns.ReturnIn, member: CurrentMember, services: ServicesDep
) -> OperationOut:
    """Return goods to the supplier they came from (退货): the reason is sealed for you and
    the supplier, and the goods ship back on a shipment carrying its commitment."""
    return returns.return_order(services, member=member, order=body)


@router.post("/explants", response_model=OperationOut, status_code=201)
def explant(body: returns.ExplantIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    """Record the removal of an implant you dispensed (sealed for you, the manufacturer
    and the regulator; anchored)."""
    return returns.explant(services, member=member, record=body)


@router.post("/service-records", response_model=OperationOut, status_code=201)
def service_record(
    body: service_records.ServiceIn, member: CurrentMember, services: ServicesDep
) -> OperationOut:
    """Record an installation, maintenance, calibration or repair of a unit you hold or
    made (sealed for its holder, manufacturer, service organisation and the regulator)."""
    return service_records.record_service(services, member=member, record=body)


@router.get("/items/{item_id:path}/records", response_model=RecordsOut)
def item_records(
    item_id: CodeParam, member: CurrentMember, services: ServicesDep, limit: Limit, offset: Offset
) -> RecordsOut:
    """The records about a unit that you may read (explants, service records, returns,
    use records ...), newest first."""
    key = item_key_of(item_id)
    found = unit_records.unit_records(services, key, member=member, limit=limit, offset=offset)
    views = [unit_records.read_record(services, r.id, member=member, kinds=None) for r in found]
    return RecordsOut(records=[_view(v) for v in views])


@router.get("/records/{record_id}", response_model=RecordOut)
def read_record(record_id: RecordId, member: CurrentMember, services: ServicesDep) -> RecordOut:
    """A sealed record you are party to, with its content (404 otherwise)."""
    return _view(unit_records.read_record(services, record_id, member=member, kinds=None))


@router.get("/records/{record_id}/verification", response_model=RecordCheckOut)
def verify_record(
    record_id: RecordId, member: CurrentMember, services: ServicesDep
) -> RecordCheckOut:
    """The regulator's check: the record's opening recomputes the commitment an event of
    its anchoring transaction carries (404 for anyone but a regulator)."""
    found = record_check.check_record(services, record_id, member=member)
    return RecordCheckOut(
        record_id=found.record_id,
        kind=found.kind,
        commitment=hexs(found.commitment),
        anchored_tx=found.anchored_tx,
        event=found.event,
        argument=found.argument,
        block_number=found.block_number,
        matches=found.matches,
    )


# ---------------------------------------------------------------- return inspection (退货验收)

ShipmentId = Annotated[int, Path(ge=1, le=2**64 - 1)]


class ReturnLineOut(BaseModel):
    gtin: str
    lot_number: str
    expiry: int
    quantity: int
    serials: list[str]


class AwaitingReturnOut(BaseModel):
    shipment_id: int
    origin: str = Field(description="rejected (by the receiver) or return_order (to you)")
    counterparty: str
    counterparty_name: str
    lines: list[ReturnLineOut]


class AwaitingReturnsOut(BaseModel):
    returns: list[AwaitingReturnOut]


@router.get("/return-inspections", response_model=AwaitingReturnsOut)
def awaiting_return_inspection(
    member: CurrentMember, services: ServicesDep, limit: Limit
) -> AwaitingReturnsOut:
    """Goods that came back to you (rejected by a receiver of your shipment, or returned to
    you on a return order) and await your return inspection, per shipment, newest first."""
    found = return_inspection.awaiting(services, member=member, limit=limit)
    return AwaitingReturnsOut(
        returns=[
            AwaitingReturnOut(
                shipment_id=r.shipment_id,
                origin=r.origin,
                counterparty=r.counterparty.address,
                counterparty_name=r.counterparty.name,
                lines=[ReturnLineOut(**asdict(x)) for x in r.lines],
            )
            for r in found
        ]
    )


@router.post(
    "/shipments/{shipment_id}/return-inspection", response_model=OperationOut, status_code=201
)
def record_return_inspection(
    shipment_id: ShipmentId,
    body: return_inspection.ReturnInspectionIn,
    member: CurrentMember,
    services: ServicesDep,
) -> OperationOut:
    """Record the return inspection (退货验收) of the goods of a shipment that came back to
    you: sealed for you, the other party, the manufacturers and the regulator, anchored;
    quarantine and destroy dispositions are carried out (404 unless goods of it came back
    to you and are not inspected yet)."""
    return return_inspection.record_inspection(
        services, member=member, shipment_id=shipment_id, inspection=body
    )
