"""Adverse events, the HTTP face of `domain.adverse_events`: a member reports the structured
report (sealed for it, the lot's manufacturer and the regulator; its salted commitment is
the on-chain `reportHash`) and the reporter, the manufacturer and the regulator list and
read the reports they are party to (`/v1/partner/adverse-events`; in regulator mode the
regulator's staff read them at `/v1/regulator/adverse-events`). Anyone else gets 404.

A partner that signs its own transactions still calls `Records.reportAdverseEvent` with
its own 32-byte hash through POST /v1/partner/transactions.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from medledger.domain import adverse_events as ae
from medledger.domain.adverse_events import AdverseEventIn
from medledger.domain.items import parse_id
from medledger.domain.partner_schemas import PROBLEMS, OperationOut, hexs
from medledger.domain.records import SealedRecord
from medledger.domain.regulator import regulator_account
from medledger.domain.services import Services
from medledger.web.deps import ServicesDep
from medledger.web.members import CurrentMember
from medledger.web.oversight import RegulatorOnly
from medledger.web.pagination import Limit, Offset

__all__ = ["regulator_router", "router"]

router = APIRouter(prefix="/v1/partner/adverse-events", tags=["partner"], responses=PROBLEMS)
regulator_router = APIRouter(
    prefix="/v1/regulator/adverse-events", tags=["regulator"], dependencies=[RegulatorOnly]
)
RecordId = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_-]+$")]
Subject = Annotated[
    str | None, Query(min_length=66, max_length=66, description="item id or lot key")
]


class AdverseEventSummaryOut(BaseModel):
    id: str
    subject_id: str
    reporter: str
    report_hash: str
    anchored_tx: str | None
    created_at: int


class AdverseEventOut(AdverseEventSummaryOut):
    report: dict[str, Any]


class AdverseEventsOut(BaseModel):
    adverse_events: list[AdverseEventSummaryOut]


def _summary(r: SealedRecord) -> AdverseEventSummaryOut:
    return AdverseEventSummaryOut(
        id=r.id,
        subject_id=hexs(r.subject_id),
        reporter=r.author,
        report_hash=hexs(r.commitment),
        anchored_tx=r.anchored_tx,
        created_at=r.created_at,
    )


def _one(found: ae.ReadReport) -> AdverseEventOut:
    return AdverseEventOut(**_summary(found.record).model_dump(), report=found.body)


def _list(
    services: Services, reader: str, regulator: bool, subject: str | None, limit: int, offset: int
) -> AdverseEventsOut:
    subject_id = parse_id(subject, "subject") if subject else None
    found = ae.reports(
        services,
        reader_address=reader,
        regulator=regulator,
        subject_id=subject_id,
        limit=limit,
        offset=offset,
    )
    return AdverseEventsOut(adverse_events=[_summary(r) for r in found])


@router.post("", response_model=OperationOut, status_code=201)
def report(body: AdverseEventIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    """Report an adverse event about an item (unit or container) or a lot. The ledger
    takes it only from a member concerned by the subject: the item's holder (a hospital
    keeps the units it dispensed), the manufacturer of its lot, or the regulator; anything
    else, an unknown subject included, is 409 `RecordsNotConcerned`."""
    return ae.report_event(services, member=member, event=body)


@router.get("", response_model=AdverseEventsOut)
def reports(
    member: CurrentMember,
    services: ServicesDep,
    limit: Limit,
    offset: Offset,
    subject_id: Subject = None,
) -> AdverseEventsOut:
    """The reports you filed, those about your lots (as their manufacturer), or all of them
    (the regulator), newest first."""
    return _list(services, member.address, member.is_regulator, subject_id, limit, offset)


@router.get("/{record_id}", response_model=AdverseEventOut)
def read(record_id: RecordId, member: CurrentMember, services: ServicesDep) -> AdverseEventOut:
    """One report you are party to, with its content (404 otherwise)."""
    return _one(
        ae.read_report(
            services, record_id, reader_address=member.address, regulator=member.is_regulator
        )
    )


@regulator_router.get("", response_model=AdverseEventsOut)
def regulator_reports(
    services: ServicesDep, limit: Limit, offset: Offset, subject_id: Subject = None
) -> AdverseEventsOut:
    """Every adverse-event report this deployment holds, newest first."""
    address = regulator_account(services).address
    return _list(services, address, True, subject_id, limit, offset)


@regulator_router.get("/{record_id}", response_model=AdverseEventOut)
def regulator_read(record_id: RecordId, services: ServicesDep) -> AdverseEventOut:
    address = regulator_account(services).address
    return _one(ae.read_report(services, record_id, reader_address=address, regulator=True))
