"""Lot-tracked custody for the signed-in member, the HTTP face of `domain.lot_custody`:
commission a quantity of a lot, pack cases of a package level and unpack them, dispense
(hospitals), quarantine and release the member's own loose units, destroy them.

Shipping and receiving loose quantities go with the units: `lots` on POST
/v1/partner/shipments, `rejected_lots` on POST /v1/partner/shipments/{id}/receive (and in
the EIP-712 orders a member signs itself). Every write uses the member's custodial key;
the ledger's refusals are problem+json named after the Solidity error (for instance 409
`ItemsSerialisedLot`, `ItemsInsufficientQuantity`, `ItemsRecalled`, `ItemsLotExpired`).
Each call acts only on the member's own balance or cases: another member's case is refused
by the ledger as not held (`ItemsNotHolder`), another's lot as not the caller's.
"""

from __future__ import annotations

from fastapi import APIRouter

from medledger.domain import lot_custody
from medledger.domain.lot_schemas import CasesIn, CommissionLotIn, LotsIn, PackCasesIn
from medledger.domain.partner_schemas import PROBLEMS, OperationOut
from medledger.web.deps import ServicesDep
from medledger.web.members import CurrentMember

__all__ = ["router"]

# Mounted under /v1/partner by `api.routes.items`.
router = APIRouter(tags=["partner"], responses=PROBLEMS)


@router.post("/lots/commission", response_model=OperationOut, status_code=201)
def commission_lot(
    body: CommissionLotIn, member: CurrentMember, services: ServicesDep
) -> OperationOut:
    """Commission `quantity` loose units of a lot you manufacture (lot-tracked products
    only: a serialised product is 409 `ItemsSerialisedLot`)."""
    return lot_custody.commission_lot(services, member=member, body=body)


@router.post("/cases/pack", response_model=OperationOut, status_code=201)
def pack_cases(body: PackCasesIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    """Pack your loose units of `lot` into cases of the package level `package_gtin`, one
    case per serial; `item_ids` are the case ids."""
    return lot_custody.pack_cases(services, member=member, body=body)


@router.post("/cases/unpack", response_model=OperationOut)
def unpack_cases(body: CasesIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    """Open cases you hold: their units return to your loose balance of the lot."""
    return lot_custody.unpack_cases(services, member=member, body=body)


@router.post("/lots/dispense", response_model=OperationOut)
def dispense_lots(body: LotsIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    """A hospital uses loose units on patients (a recalled or expired lot is refused)."""
    return lot_custody.dispense_lots(services, member=member, body=body)


@router.post("/lots/quarantine", response_model=OperationOut)
def quarantine_lots(body: LotsIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    """Put your own loose units on hold."""
    return lot_custody.quarantine_lots(services, member=member, body=body)


@router.post("/lots/release", response_model=OperationOut)
def release_lots(body: LotsIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    """Release your quarantined loose units back to Active."""
    return lot_custody.release_lots(services, member=member, body=body)


@router.post("/lots/destroy", response_model=OperationOut)
def destroy_lots(body: LotsIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    """Destroy your loose units, quarantined ones first."""
    return lot_custody.destroy_lots(services, member=member, body=body)
