"""Returns (退货) and explants.

A return order goes from a holder back to its supplier: the reason is a sealed record
(kind RETURN) for the holder and the supplier (and the regulator), and the goods travel
on an ordinary shipment (`domain.items.ship`) whose document hash is the record's
commitment, so the record and the shipment name each other on chain. The supplier must
be a member the holder received from; the ledger's shipping rules apply as for any
shipment.

An explant return is a hospital's record (kind EXPLANT) about an implant it dispensed and
later removed: date, reason, the device's condition and whether it goes back to the
manufacturer. It is sealed for the hospital, the lot's manufacturer and the regulator and
anchored with `Records.anchorDocument`; the unit's history shows it to them.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from medledger.domain import items
from medledger.domain.auth import Member
from medledger.domain.errors import Conflict, NotFound
from medledger.domain.partner_schemas import (
    MAX_BATCH,
    Address,
    Hex32,
    LotQuantities,
    OperationOut,
    ShipIn,
    Strict,
    hexs,
)
from medledger.domain.record_notes import MAX_NOTE, PastDate, anchored, seal_note
from medledger.domain.records import RecordKind
from medledger.domain.services import Services
from medledger.domain.unit_records import anchor_sealed, unit_parties
from medledger.indexer.queries.shipments import ShipmentRow
from medledger.sdk.model import ItemStatus

__all__ = [
    "ExplantIn",
    "ReturnIn",
    "ReturnReason",
    "explant",
    "return_order",
]


class ReturnReason(StrEnum):
    DAMAGED = "damaged"
    WRONG_ITEM = "wrong_item"
    EXPIRED = "expired"
    RECALLED = "recalled"
    QUALITY = "quality"
    SURPLUS = "surplus"
    OTHER = "other"


class ReturnIn(Strict):
    """A return order: what goes back to whom, and why."""

    supplier: Address
    item_ids: list[Hex32] = Field(default_factory=list, max_length=MAX_BATCH)
    lots: LotQuantities = Field(default_factory=list)
    reason: ReturnReason
    note: str = Field(default="", max_length=MAX_NOTE)


class ExplantIn(Strict):
    """An implant removed from a patient (no patient data)."""

    item_id: Hex32
    explant_date: PastDate
    reason: str = Field(min_length=1, max_length=MAX_NOTE)
    condition: str = Field(default="", max_length=MAX_NOTE)
    returned_to_manufacturer: bool = False


def return_order(services: Services, *, member: Member, order: ReturnIn) -> OperationOut:
    """Seal the return order for the holder and the supplier and ship the goods back on a
    shipment carrying its commitment. 409 `return_to_non_supplier` when the supplier never
    shipped to the member."""
    suppliers = {
        s.sender.address
        for s in _received(services, member)
        if s.receiver.address == member.address
    }
    if order.supplier not in suppliers:
        raise Conflict(
            "return_to_non_supplier",
            f"{order.supplier} has not supplied you: return goods to"
            " the member you received them from",
        )
    fields = {
        "receiver": order.supplier,
        "item_ids": [hexs(i) for i in order.item_ids],
        "lots": [{"lot_key": hexs(q.lot_key), "quantity": q.quantity} for q in order.lots],
    }
    ShipIn.model_validate(fields)  # 1..500 entries, distinct lots: before anything is sealed
    subject = order.item_ids[0] if order.item_ids else order.lots[0].lot_key
    sealed = seal_note(
        services,
        kind=RecordKind.RETURN,
        author=member.address,
        readers=[order.supplier],
        subject_id=subject,
        body={"reason": order.reason.value, "note": order.note.strip(), **fields},
    )
    body = ShipIn.model_validate({**fields, "document_hash": hexs(sealed.commitment)})
    return anchored(services, sealed, items.ship(services, member=member, order=body))


def _received(services: Services, member: Member) -> list[ShipmentRow]:
    with services.engine.connect() as conn:
        return items.shipments(conn, member=member, limit=1000, offset=0)


def explant(services: Services, *, member: Member, record: ExplantIn) -> OperationOut:
    """Record the removal of an implant the member (a hospital) dispensed: sealed for it,
    the lot's manufacturer and the regulator, anchored on chain. 404 `item_not_found` for
    a unit the member does not hold; 409 `unit_not_implanted` for one not dispensed."""
    parties = unit_parties(services, record.item_id, member=member)
    if parties.holder != member.address:
        raise NotFound("item_not_found", "no such unit among the units you hold")
    if parties.status is not ItemStatus.DISPENSED:
        raise Conflict("unit_not_implanted", "only a dispensed (implanted) unit is explanted")
    sealed = seal_note(
        services,
        kind=RecordKind.EXPLANT,
        author=member.address,
        readers=[parties.manufacturer],
        subject_id=record.item_id,
        body=record.model_dump(mode="json", exclude={"item_id"}),
    )
    return anchor_sealed(services, member=member, record=sealed)
