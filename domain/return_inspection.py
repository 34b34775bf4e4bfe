"""Return inspection (退货验收): the GSP step for goods that come back to a member.

Goods come back two ways. A receiver that rejects items or lot quantities of a shipment
sends them back to the sender's custody at once on chain (`rejected`); and a holder that
returns goods on a return order (`domain.returns`) ships them to its supplier, who receives
them (`return_order`). Either way the member they came back to inspects them: per line
(product and lot) whether it was received back, its condition and the disposition
(restock, quarantine or destroy), with the inspector and a note.

The inspection is a sealed record (kind RETURN_INSPECTION, subject the shipment, as the
acceptance record) for the inspecting member, the other party of the shipment, the
manufacturers of the products and the regulator, anchored with `Records.anchorDocument`.
A quarantine or destroy disposition is then carried out through the ordinary use cases
(`domain.items` for serialised units, `domain.lot_custody` for loose quantities), each
with a note naming the inspection record.

Only the member the goods came back to sees a shipment as awaiting inspection or records
one; for anyone else the shipment is not found (404), as for one that does not exist.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from medledger.domain import items, lot_custody, records
from medledger.domain.acceptance import _manufacturers, shipment_subject
from medledger.domain.auth import Member
from medledger.domain.errors import NotFound, Unprocessable
from medledger.domain.lot_schemas import LotsIn
from medledger.domain.partner_schemas import (
    MAX_BATCH,
    ItemsIn,
    OperationOut,
    Strict,
    hexs,
)
from medledger.domain.record_notes import MAX_NOTE
from medledger.domain.records import RecordKind
from medledger.domain.services import Services
from medledger.domain.unit_records import anchor_sealed
from medledger.indexer.items import EventKind
from medledger.indexer.queries.inspection import shipment_lots
from medledger.indexer.queries.shipments import ShipmentRow, shipments_of
from medledger.indexer.queries.shipments import shipment as shipment_row
from medledger.indexer.queries.trace import OrgRef
from medledger.sdk import gs1

__all__ = [
    "AwaitingLine",
    "AwaitingReturn",
    "Disposition",
    "InspectionLineIn",
    "ReturnInspectionIn",
    "awaiting",
    "record_inspection",
]

Origin = Literal["rejected", "return_order"]
SCAN = 1000  # the newest shipments looked at for goods awaiting inspection


class Disposition(StrEnum):
    RESTOCK = "restock"
    QUARANTINE = "quarantine"
    DESTROY = "destroy"


class InspectionLineIn(Strict):
    """One product and lot of the goods that came back."""

    gtin: str = Field(pattern=r"^[0-9]{14}$")
    lot_number: str = Field(min_length=1, max_length=20)
    received_back: bool
    condition: str = Field(default="", max_length=200)
    disposition: Disposition
    note: str = Field(default="", max_length=MAX_NOTE)


class ReturnInspectionIn(Strict):
    """The return inspection of one shipment's goods: every line, once."""

    inspector: str = Field(min_length=1, max_length=100)
    note: str = Field(default="", max_length=MAX_NOTE)
    lines: list[InspectionLineIn] = Field(min_length=1, max_length=MAX_BATCH)


@dataclass(slots=True)
class AwaitingLine:
    gtin: str
    lot_number: str
    expiry: int
    quantity: int
    serials: list[str] = field(default_factory=list)

    @property
    def loose(self) -> int:
        """The units that are not serialised (a loose quantity of the lot)."""
        return self.quantity - len(self.serials)


@dataclass(frozen=True, slots=True)
class AwaitingReturn:
    shipment_id: int
    origin: Origin
    counterparty: OrgRef  # the receiver that rejected, or the holder that returned
    lines: list[AwaitingLine]


def _came_back(member: Member, row: ShipmentRow, services: Services) -> Origin | None:
    """How `row`'s goods came back to `member`, if they did."""
    if row.sender.address == member.address and (row.rejected_count or 0) > 0:
        return "rejected"
    if row.receiver.address == member.address and row.settled_block is not None:
        order = records.by_commitment(
            services, row.document_hash, reader=member.address, regulator=False
        )
        if order is not None and order.record.kind == RecordKind.RETURN:
            return "return_order"
    return None


def _inspected(services: Services, member: Member, shipment_id: int) -> bool:
    found = records.list_for(
        services,
        reader=member.address,
        regulator=False,
        kind=RecordKind.RETURN_INSPECTION,
        subject_id=shipment_subject(shipment_id),
        limit=20,
    )
    return any(r.author == member.address.lower() for r in found)


def _returns(services: Services, member: Member, rows: list[ShipmentRow]) -> list[AwaitingReturn]:
    found = [(row, _came_back(member, row, services)) for row in rows]
    came_back = [
        (row, origin)
        for row, origin in found
        if origin is not None and not _inspected(services, member, row.shipment_id)
    ]
    with services.engine.connect() as conn:
        lines = shipment_lots(conn, [row.shipment_id for row, _ in came_back])
    out = []
    for row, origin in came_back:
        way = EventKind.REJECTED if origin == "rejected" else EventKind.RECEIVED
        mine = [
            AwaitingLine(x.gtin, x.lot_number, x.expiry, x.quantity, list(x.serials))
            for x in lines
            if x.shipment_id == row.shipment_id and x.kind == way
        ]
        other = row.receiver if origin == "rejected" else row.sender
        if mine:
            out.append(AwaitingReturn(row.shipment_id, origin, other, mine))
    return out


def awaiting(services: Services, *, member: Member, limit: int = 100) -> list[AwaitingReturn]:
    """Goods that came back to `member` and await its return inspection, newest first."""
    with services.engine.connect() as conn:
        rows = shipments_of(conn, member.address, side="either", limit=SCAN)
    return _returns(services, member, rows)[:limit]


def _one(services: Services, member: Member, shipment_id: int) -> AwaitingReturn:
    with services.engine.connect() as conn:
        row = shipment_row(conn, shipment_id)
    found = [] if row is None else _returns(services, member, [row])
    if not found:
        raise NotFound(
            "return_not_found",
            f"no goods of shipment {shipment_id} came back to you awaiting inspection",
        )
    return found[0]


def _check_lines(expected: list[AwaitingLine], given: list[InspectionLineIn]) -> None:
    want = {(x.gtin, x.lot_number) for x in expected}
    got = [(x.gtin, x.lot_number) for x in given]
    if len(set(got)) != len(got) or set(got) != want:
        names = ", ".join(f"{g} {lot}" for g, lot in sorted(want))
        raise Unprocessable(
            "return_inspection_lines",
            f"inspect each line that came back exactly once: {names}",
        )


def _body(member: Member, goods: AwaitingReturn, inspection: ReturnInspectionIn) -> dict[str, Any]:
    by_lot = {(x.gtin, x.lot_number): x for x in goods.lines}
    lines = []
    for line in inspection.lines:
        moved = by_lot[(line.gtin, line.lot_number)]
        lines.append(
            {
                **line.model_dump(mode="json"),
                "condition": line.condition.strip(),
                "note": line.note.strip(),
                "quantity": moved.quantity,
                "serials": moved.serials,
                "expiry": moved.expiry,
            }
        )
    return {
        "shipment_id": goods.shipment_id,
        "origin": goods.origin,
        "counterparty": goods.counterparty.address,
        "inspector": inspection.inspector.strip(),
        "signed_in_member": member.address,
        "inspected_at": int(time.time()),
        "note": inspection.note.strip(),
        "lines": lines,
    }


def _dispose(
    services: Services,
    member: Member,
    goods: AwaitingReturn,
    inspection: ReturnInspectionIn,
    record_id: str,
) -> None:
    """Quarantine or destroy what the inspection says, through the ordinary use cases."""
    by_lot = {(x.gtin, x.lot_number): x for x in goods.lines}
    for disposition in (Disposition.QUARANTINE, Disposition.DESTROY):
        chosen = [
            by_lot[(x.gtin, x.lot_number)]
            for x in inspection.lines
            if x.received_back and x.disposition is disposition
        ]
        unit_ids = [hexs(gs1.item_id(gs1.unit_path(x.gtin, s))) for x in chosen for s in x.serials]
        lots = [
            {"lot_key": hexs(gs1.lot_key(x.gtin, x.lot_number)), "quantity": x.loose}
            for x in chosen
            if x.loose > 0
        ]
        note = {"reference": f"return inspection {record_id}"}
        if unit_ids:
            units = ItemsIn.model_validate({"item_ids": unit_ids, "record": note})
            use = items.quarantine if disposition is Disposition.QUARANTINE else items.destroy
            use(services, member=member, items=units)
        if lots:
            body = LotsIn.model_validate({"lots": lots, "record": note})
            if disposition is Disposition.QUARANTINE:
                lot_custody.quarantine_lots(services, member=member, body=body)
            else:
                lot_custody.destroy_lots(services, member=member, body=body)


def record_inspection(
    services: Services, *, member: Member, shipment_id: int, inspection: ReturnInspectionIn
) -> OperationOut:
    """Seal and anchor the return inspection of the goods of `shipment_id` that came back
    to `member`, then carry out its quarantine and destroy dispositions. 404
    `return_not_found` when none came back to the member (or they are inspected already);
    422 `return_inspection_lines` unless every line that came back is inspected once."""
    goods = _one(services, member, shipment_id)
    _check_lines(goods.lines, inspection.lines)
    manufacturers = _manufacturers(services, {x.gtin for x in goods.lines})
    sealed = records.seal(
        services,
        kind=RecordKind.RETURN_INSPECTION,
        author=member.address,
        readers=[goods.counterparty.address, *manufacturers],
        subject_id=shipment_subject(shipment_id),
        body=_body(member, goods, inspection),
    )
    out = anchor_sealed(services, member=member, record=sealed)
    _dispose(services, member, goods, inspection, sealed.id)
    return out.model_copy(update={"shipment_id": shipment_id})
