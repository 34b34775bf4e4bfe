"""Lot-tracked custody: loose quantities of a lot and cases of a package level, for one
member, behind both faces (`api.routes.lots`, the portal's forms).

Commission a quantity (the lot's manufacturer; a serialised product is refused with
409 `ItemsSerialisedLot`), pack loose units into cases of a registered package level and
unpack cases, dispense (a hospital; a recalled or expired lot is refused by the ledger),
quarantine and release the member's own loose units, destroy them. Shipping and
receiving quantities go with the units through `domain.items` / `domain.orders`
(`ShipIn.lots`, `ReceiveIn.rejected_lots`); `check_available` refuses an over-shipment
before anything is signed, naming the quantity available.

Every write uses the member's custodial key (a member holding its own key submits its
signed transaction to POST /v1/partner/transactions) and answers once the read model shows
it (`domain.read_your_writes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medledger.domain import orders
from medledger.domain.auth import Member
from medledger.domain.chain import reader
from medledger.domain.devices import member_ledger
from medledger.domain.errors import Conflict, NotFound
from medledger.domain.lot_schemas import CasesIn, CommissionLotIn, LotsIn, PackCasesIn
from medledger.domain.orders import report
from medledger.domain.partner_schemas import LotQuantityIn, OperationOut, hexs
from medledger.domain.read_your_writes import settled
from medledger.domain.record_notes import anchored, note_commitment
from medledger.domain.records import RecordKind
from medledger.domain.services import Services
from medledger.domain.unit_records import anchor_sealed
from medledger.sdk.messages import LotQuantity

__all__ = [
    "LotAvailability",
    "available",
    "check_available",
    "commission_lot",
    "destroy_lots",
    "dispense_lots",
    "ledger_lots",
    "pack_cases",
    "quarantine_lots",
    "release_lots",
    "unpack_cases",
]


class LotAvailability(Conflict):
    """409 `lot_quantity_unavailable`: more of a lot asked for than the holder has loose
    and Active; `available` and `requested` say how many."""


def ledger_lots(lots: Sequence[LotQuantityIn]) -> tuple[LotQuantity, ...]:
    """The entries as the ledger takes them: ascending lot keys."""
    return orders.lot_quantities(lots)


def available(services: Services, *, holder: str, lot_key: bytes) -> int:
    """The holder's loose Active units of the lot, as the chain has them now (404
    `lot_not_found` for an unknown lot)."""
    ledger = reader(services)
    lot = ledger.lot(lot_key)
    if lot is None:
        raise NotFound("lot_not_found", f"no lot {hexs(lot_key)}")
    return ledger.lot_balance(lot.lot_index, holder)[0]


def check_available(services: Services, *, holder: str, lots: Sequence[LotQuantityIn]) -> None:
    """Refuse (409 `lot_quantity_unavailable`) a lot quantity the holder does not have,
    before anything is signed."""
    for q in lots:
        have = available(services, holder=holder, lot_key=q.lot_key)
        if q.quantity > have:
            raise LotAvailability(
                "lot_quantity_unavailable",
                f"lot {hexs(q.lot_key)}: {have} units available, {q.quantity} requested",
                lot_key=hexs(q.lot_key),
                available=have,
                requested=q.quantity,
            )


def commission_lot(services: Services, *, member: Member, body: CommissionLotIn) -> OperationOut:
    result = member_ledger(services, member).commission_lot(body.lot_key, body.quantity)
    return settled(services, report(result, signed_by="custodial", lot_key=hexs(body.lot_key)))


def pack_cases(services: Services, *, member: Member, body: PackCasesIn) -> OperationOut:
    result = member_ledger(services, member).pack_cases(body.package_gtin, body.lot, body.serials)
    out = report(result, signed_by="custodial", item_ids=[hexs(i) for i in result.value])
    return settled(services, out)


def unpack_cases(services: Services, *, member: Member, body: CasesIn) -> OperationOut:
    result = member_ledger(services, member).unpack_cases(body.case_ids)
    return settled(services, report(result, signed_by="custodial"))


def _noted(services: Services, member: Member, kind: RecordKind, body: LotsIn) -> Any:
    """The hash to pass for `body`'s record: sealed for the member (and the regulator)."""
    return note_commitment(
        services,
        author=member.address,
        kind=kind,
        subject_id=body.lots[0].lot_key,
        record=body.record,
        given=body.record_hash,
        extra={"lots": [{"lot_key": hexs(q.lot_key), "quantity": q.quantity} for q in body.lots]},
    )


def dispense_lots(services: Services, *, member: Member, body: LotsIn) -> OperationOut:
    record, sealed = _noted(services, member, RecordKind.DISPENSE, body)
    result = member_ledger(services, member).dispense_lots(
        ledger_lots(body.lots), record_hash=record
    )
    return settled(services, anchored(services, sealed, report(result, signed_by="custodial")))


def quarantine_lots(services: Services, *, member: Member, body: LotsIn) -> OperationOut:
    """Put the member's own loose units on hold."""
    reason, sealed = _noted(services, member, RecordKind.QUARANTINE, body)
    result = member_ledger(services, member).quarantine_lots(
        member.address, ledger_lots(body.lots), reason_hash=reason
    )
    return settled(services, anchored(services, sealed, report(result, signed_by="custodial")))


def release_lots(services: Services, *, member: Member, body: LotsIn) -> OperationOut:
    """Release the member's own quarantined units; a release record (the call carries no
    hash) is sealed and anchored on its own (`Records.anchorDocument`)."""
    _, sealed = _noted(services, member, RecordKind.RELEASE, body)
    result = member_ledger(services, member).release_lots(member.address, ledger_lots(body.lots))
    out = settled(services, report(result, signed_by="custodial"))
    if sealed is not None:
        anchor_sealed(services, member=member, record=sealed)
        out = out.model_copy(update={"record_id": sealed.id})
    return out


def destroy_lots(services: Services, *, member: Member, body: LotsIn) -> OperationOut:
    record, sealed = _noted(services, member, RecordKind.DESTRUCTION, body)
    result = member_ledger(services, member).destroy_lots(
        ledger_lots(body.lots), record_hash=record
    )
    return settled(services, anchored(services, sealed, report(result, signed_by="custodial")))
