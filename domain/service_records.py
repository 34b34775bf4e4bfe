"""Service records (售后维护) for equipment units: installation, maintenance, calibration
and repair, each with its date, the technician's organisation, the result and the next
due date. A record is written by the unit's holder or the manufacturer of its lot, sealed
for the holder, the manufacturer, the service organisation named and the regulator
(kind SERVICE), and anchored with `Records.anchorDocument`; the unit's history shows it to
exactly those parties."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import Field, model_validator

from medledger.domain.auth import Member
from medledger.domain.partner_schemas import Address, Hex32, OperationOut, Strict
from medledger.domain.record_notes import MAX_NOTE, PastDate, seal_note
from medledger.domain.records import RecordKind
from medledger.domain.services import Services
from medledger.domain.unit_records import anchor_sealed, unit_parties

__all__ = ["ServiceIn", "ServiceResult", "ServiceType", "record_service"]


class ServiceType(StrEnum):
    INSTALLATION = "installation"
    MAINTENANCE = "maintenance"
    CALIBRATION = "calibration"
    REPAIR = "repair"


class ServiceResult(StrEnum):
    PASSED = "passed"
    ADJUSTED = "adjusted"
    REPAIRED = "repaired"
    FAILED = "failed"
    OUT_OF_SERVICE = "out_of_service"


class ServiceIn(Strict):
    item_id: Hex32
    service_date: PastDate
    service_type: ServiceType
    technician_org: Address | None = Field(
        default=None, description="the member that did the work, if not the author"
    )
    result: ServiceResult
    notes: str = Field(default="", max_length=MAX_NOTE)
    next_due: dt.date | None = None

    @model_validator(mode="after")
    def _due_after(self) -> ServiceIn:
        if self.next_due is not None and self.next_due <= self.service_date:
            raise ValueError("the next due date must come after the service date")
        return self


def record_service(services: Services, *, member: Member, record: ServiceIn) -> OperationOut:
    """Seal and anchor a service record about a unit the member holds or made (404
    `item_not_found` otherwise, as for a unit that does not exist)."""
    parties = unit_parties(services, record.item_id, member=member)
    readers = {parties.holder, parties.manufacturer}
    if record.technician_org:
        readers.add(record.technician_org)
    sealed = seal_note(
        services,
        kind=RecordKind.SERVICE,
        author=member.address,
        readers=sorted(readers - {member.address}),
        subject_id=record.item_id,
        body=record.model_dump(mode="json", exclude={"item_id"}, exclude_none=True),
    )
    return anchor_sealed(services, member=member, record=sealed)
