"""Adverse events (不良事件): the structured report a member files about an item or a lot,
sealed in the records store (`domain.records`, kind ADVERSE_EVENT) for the reporter, the
manufacturer of the lot and the regulator; only its salted commitment goes on chain, as
the `reportHash` of `Records.reportAdverseEvent`.

The report carries no patient names or ids: an age band and, optionally, a sex are the
only patient fields. Reporting: the ledger takes a report only from a member concerned by
the subject (its holder, the lot's manufacturer, the regulator); a report the chain refused
stays unanchored and is never listed or read back. Reading: the reporter, the manufacturer
and the regulator list and read the reports they are party to; anyone else gets 404, as
for a report that does not exist.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator
from sqlalchemy import Connection

from medledger.domain import records
from medledger.domain.alerts import Alert, adverse_rate_alerts
from medledger.domain.auth import Member
from medledger.domain.chain import reader
from medledger.domain.devices import member_ledger
from medledger.domain.errors import NotFound
from medledger.domain.orders import report
from medledger.domain.partner_schemas import Hex32, OperationOut, Strict, hexs
from medledger.domain.read_your_writes import settled
from medledger.domain.record_notes import PastDate, anchored
from medledger.domain.records import RecordKind, SealedRecord
from medledger.domain.services import Services
from medledger.indexer.queries.devices import lots_of

__all__ = [
    "MAX_NARRATIVE",
    "MAX_PROBLEM",
    "AdverseEventIn",
    "AgeBand",
    "Outcome",
    "ReadReport",
    "Sex",
    "lot_alerts",
    "lot_manufacturer",
    "read_report",
    "report_event",
    "reports",
    "subject_hex",
]

MAX_NARRATIVE = 4000
MAX_PROBLEM = 500


class Outcome(StrEnum):
    """What happened to the patient (or user)."""

    DEATH = "death"
    SERIOUS_INJURY = "serious_injury"
    INJURY = "injury"
    NO_INJURY = "no_injury"
    UNKNOWN = "unknown"


class AgeBand(StrEnum):
    CHILD = "0-17"
    ADULT = "18-44"
    MIDDLE = "45-64"
    OLDER = "65-79"
    ELDERLY = "80+"
    UNKNOWN = "unknown"


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"


class AdverseEventIn(Strict):
    """An adverse-event report: sealed off chain, its commitment on chain."""

    subject_id: Hex32 = Field(description="the item id or lot key it is about")
    severity: int = Field(ge=1, le=3, description="1 death or serious injury .. 3 no harm")
    event_date: PastDate
    outcome: Outcome
    device_problem_code: str | None = Field(
        default=None,
        pattern=r"^[A-Z][0-9]{2,6}$",
        description="IMDRF Annex A device problem code, e.g. A0501",
    )
    device_problem: str = Field(min_length=1, max_length=MAX_PROBLEM)
    patient_age_band: AgeBand = AgeBand.UNKNOWN
    patient_sex: Sex | None = None
    narrative: str = Field(min_length=1, max_length=MAX_NARRATIVE)

    @field_validator("device_problem", "narrative")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("empty text")
        return value.strip()

    def body(self) -> dict[str, Any]:
        """What is sealed: everything but the subject (the record's own field)."""
        fields = self.model_dump(mode="json", exclude={"subject_id"})
        return {k: v for k, v in fields.items() if v is not None}


@dataclass(frozen=True)
class ReadReport:
    """A report as its parties read it."""

    record: SealedRecord
    body: dict[str, Any]

    @property
    def severity(self) -> int:
        return int(self.body["severity"])


def lot_manufacturer(services: Services, subject_id: bytes) -> str | None:
    """The manufacturer of the item's lot or of the lot `subject_id`, as the chain has it
    (None for a subject that is neither)."""
    ledger = reader(services)
    item = ledger.item(subject_id)
    if item.status.value != 0:
        return None if item.is_container else ledger.lot_manufacturer(item.lot_index)
    lot = ledger.lot(subject_id)
    return None if lot is None else ledger.lot_manufacturer(lot.lot_index)


def report_event(services: Services, *, member: Member, event: AdverseEventIn) -> OperationOut:
    """Seal the report for the reporter, the lot's manufacturer and the regulator, and
    report its commitment on chain (`Records.reportAdverseEvent`). A member that is not
    concerned by the subject is refused by the ledger (409 `RecordsNotConcerned`); the
    sealed report then stays unanchored and unread."""
    ledger = member_ledger(services, member)  # signature_required before anything is kept
    maker = lot_manufacturer(services, event.subject_id)
    sealed = records.seal(
        services,
        kind=RecordKind.ADVERSE_EVENT,
        author=member.address,
        readers=[maker] if maker else [],
        subject_id=event.subject_id,
        body=event.body(),
    )
    result = ledger.report_adverse_event(
        event.subject_id, severity=event.severity, report_hash=sealed.commitment
    )
    out = report(result, signed_by="custodial", report_id=result.value)
    return settled(services, anchored(services, sealed, out))


def reports(
    services: Services,
    *,
    reader_address: str,
    regulator: bool,
    subject_id: bytes | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[SealedRecord]:
    """The anchored reports `reader_address` is party to, newest first."""
    found = records.list_for(
        services,
        reader=reader_address,
        regulator=regulator,
        kind=RecordKind.ADVERSE_EVENT,
        subject_id=subject_id,
        limit=limit,
        offset=offset,
    )
    return [r for r in found if r.anchored_tx is not None]


def read_report(
    services: Services, record_id: str, *, reader_address: str, regulator: bool
) -> ReadReport:
    """One report its reader is party to; 404 `adverse_event_not_found` otherwise (and
    for one the chain refused)."""
    try:
        view = records.read(services, record_id, reader=reader_address, regulator=regulator)
    except NotFound:
        view = None
    if (
        view is None
        or view.record.kind != RecordKind.ADVERSE_EVENT
        or view.record.anchored_tx is None
    ):
        raise NotFound("adverse_event_not_found", f"no adverse-event report {record_id[:80]!r}")
    return ReadReport(view.record, dict(view.body))


def lot_alerts(
    conn: Connection, services: Services, *, manufacturer: str, days: int = 90
) -> list[Alert]:
    """The per-lot adverse-event rate alerts of `manufacturer`'s own lots (the regulator's
    alert, shown to the manufacturer too) observed in the last `days` days."""
    own = {(lot.gtin, lot.lot_number) for lot in lots_of(conn, manufacturer)}
    since = int(time.time()) - days * 86_400
    threshold = services.settings.adverse_event_rate_threshold
    return adverse_rate_alerts(conn, since=since, threshold=threshold, lots=own)


def subject_hex(record: SealedRecord) -> str:
    return hexs(record.subject_id)
