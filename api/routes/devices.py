"""Devices: a manufacturer registers its products and their lots, and recalls a lot of its
own, for the signed-in member (the HTTP face of `domain.devices`). A write answers once
the read model shows it (`domain.read_your_writes`)."""

from __future__ import annotations

from fastapi import APIRouter

from medledger.domain import devices
from medledger.domain.partner_schemas import PROBLEMS, LotIn, OperationOut, ProductIn, RecallIn
from medledger.web.deps import ServicesDep
from medledger.web.members import CurrentMember

__all__ = ["router"]

router = APIRouter(prefix="/v1/partner", tags=["partner"], responses=PROBLEMS)


@router.post("/products", response_model=OperationOut, status_code=201)
def register_product(body: ProductIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    return devices.register_product(services, member=member, product=body)


@router.post("/lots", response_model=OperationOut, status_code=201)
def register_lot(body: LotIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    return devices.register_lot(services, member=member, lot=body)


@router.post("/recalls", response_model=OperationOut, status_code=201)
def recall(body: RecallIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    """Manufacturer recall of one of its lots (regulator recalls are regulator routes)."""
    return devices.recall_lot(services, member=member, recall=body)
