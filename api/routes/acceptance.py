"""Acceptance records (验收记录) of receipts, the HTTP face of `domain.acceptance`. Mounted
under /v1/partner by `api.routes.items`.

A custodial receipt takes the record in the body of POST /v1/partner/shipments/{id}/receive
(`acceptance`). A member that signs its receive order itself first seals the record here,
then signs the returned commitment as the order's `inspection_hash`. The record is read back
by exactly its parties: receiver, sender, the products' manufacturers, the regulator (404
for anyone else).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from medledger.domain import acceptance, items
from medledger.domain.acceptance_schemas import AcceptanceIn
from medledger.domain.partner_schemas import PROBLEMS
from medledger.web.deps import ServicesDep
from medledger.web.members import CurrentMember

__all__ = ["router"]

router = APIRouter(tags=["partner"], responses=PROBLEMS)
ShipmentId = Annotated[int, Path(ge=1, le=2**64 - 1)]


class SealedRecordOut(BaseModel):
    record_id: str
    commitment: str
    anchored_tx: str | None = None


class AcceptanceOut(SealedRecordOut):
    author: str
    created_at: int
    body: dict[str, Any]


@router.post("/shipments/{shipment_id}/acceptance", response_model=SealedRecordOut, status_code=201)
def seal_acceptance(
    shipment_id: ShipmentId, body: AcceptanceIn, member: CurrentMember, services: ServicesDep
) -> SealedRecordOut:
    """Seal the acceptance record of an inbound shipment of yours; sign `commitment` as the
    receive order's `inspection_hash`."""
    state = items.party_shipment(services, member=member, shipment_id=shipment_id, receiving=True)
    record = acceptance.seal_acceptance(services, member=member, shipment=state, record=body)
    return SealedRecordOut(record_id=record.id, commitment="0x" + record.commitment.hex())


@router.get("/shipments/{shipment_id}/acceptance", response_model=AcceptanceOut)
def read_acceptance(
    shipment_id: ShipmentId, member: CurrentMember, services: ServicesDep
) -> AcceptanceOut:
    """The acceptance record of a shipment, for its parties."""
    view = acceptance.read_acceptance(services, member=member, shipment_id=shipment_id)
    r = view.record
    return AcceptanceOut(
        record_id=r.id,
        commitment="0x" + r.commitment.hex(),
        anchored_tx=r.anchored_tx,
        author=r.author,
        created_at=r.created_at,
        body=view.body,
    )
