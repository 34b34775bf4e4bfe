"""The notes and record references members type beside a ledger write (a procedure
number when units are used, a quarantine reason, a destruction record, a QC release, a
delivery note): sealed in the records store (`domain.records`) for exactly the parties
named, and only the record's salted commitment passed to the contract call as its hash
argument, never a hash of the text itself (anyone holding the chain could confirm a
guessed text against an unsalted hash)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import AfterValidator

from medledger.domain import records
from medledger.domain.partner_schemas import OperationOut, RecordNoteIn
from medledger.domain.records import RecordKind, SealedRecord
from medledger.domain.services import Services
from medledger.sdk.dates import day_of

__all__ = ["MAX_NOTE", "PastDate", "anchored", "note_commitment", "seal_note"]

MAX_NOTE = 500


def _not_future(value: dt.date) -> dt.date:
    """A day that has begun somewhere: today in the consortium's zone, or a day before."""
    if value > day_of(int(time.time())) + dt.timedelta(days=1):
        raise ValueError("the date is in the future")
    return value


# The date of something that happened (an adverse event, an explant, a service).
PastDate = Annotated[dt.date, AfterValidator(_not_future)]


def seal_note(
    services: Services,
    *,
    kind: RecordKind,
    author: str,
    subject_id: bytes,
    body: Mapping[str, Any],
    readers: Iterable[str] = (),
) -> SealedRecord:
    """Seal `body` for `author`, `readers` and the regulator."""
    return records.seal(
        services, kind=kind, author=author, readers=list(readers), subject_id=subject_id, body=body
    )


def anchored(services: Services, record: SealedRecord | None, out: OperationOut) -> OperationOut:
    """Note on `record` the transaction that carried its commitment; `out` with its id."""
    if record is None:
        return out
    records.set_anchor(services, record.id, out.tx_hash)
    return out.model_copy(update={"record_id": record.id})


def note_commitment(
    services: Services,
    *,
    author: str,
    kind: RecordKind,
    subject_id: bytes,
    record: RecordNoteIn | None,
    given: bytes | None,
    readers: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
) -> tuple[bytes, SealedRecord | None]:
    """The hash a write passes to the ledger: the sealed `record`'s commitment (and the
    record), else the partner's own `given` hash, else zero."""
    if record is None:
        return given or bytes(32), None
    sealed = seal_note(
        services,
        kind=kind,
        author=author,
        subject_id=subject_id,
        body={**record.body(), **(extra or {})},
        readers=readers,
    )
    return sealed.commitment, sealed
