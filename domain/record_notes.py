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
from medledger.domain.errors import Unprocessable
from medledger.domain.partner_schemas import DeliveryNoteIn, OperationOut, RecordNoteIn
from medledger.domain.records import RecordKind, SealedRecord
from medledger.domain.services import Services
from medledger.indexer.queries.shipments import ShipmentRow
from medledger.indexer.queries.sites import gln_owner
from medledger.sdk.dates import day_of

__all__ = [
    "MAX_NOTE",
    "PastDate",
    "anchored",
    "check_sites",
    "note_commitment",
    "seal_note",
    "shipment_note",
]

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


def _site_of(services: Services, gln: str, member: str) -> bool:
    with services.engine.connect() as conn:
        found = gln_owner(conn, gln)
    if found is None:
        return False
    owner, row = found
    return owner.lower() == member.lower() and (row.active or row.is_primary)


def check_sites(services: Services, note: DeliveryNoteIn, *, sender: str, receiver: str) -> None:
    """422 unless the note's ship-from site is a GLN of the sender and its ship-to site one
    of the receiver (a registered, unretired site or the primary GLN)."""
    if note.ship_from_site and not _site_of(services, note.ship_from_site, sender):
        raise Unprocessable(
            "ship_from_not_sender_site",
            f"ship_from_site {note.ship_from_site} is not a site of the sender {sender}",
        )
    if note.ship_to_site and not _site_of(services, note.ship_to_site, receiver):
        raise Unprocessable(
            "ship_to_not_receiver_site",
            f"ship_to_site {note.ship_to_site} is not a site of the receiver {receiver}",
        )


def shipment_note(
    services: Services, moved: ShipmentRow, *, viewer: str | None
) -> dict[str, Any] | None:
    """The body of the shipment's sealed delivery note, for a party to it (`viewer`, or
    None for the regulator); None for anyone else or a shipment without a note here."""
    if not any(moved.document_hash):
        return None
    if viewer is not None and viewer.lower() not in (
        moved.sender.address.lower(),
        moved.receiver.address.lower(),
    ):
        return None
    view = records.by_commitment(
        services, moved.document_hash, reader=viewer or "", regulator=viewer is None
    )
    if view is None or view.record.kind != RecordKind.SHIPMENT_NOTE:
        return None
    if view.record.author.lower() != moved.sender.address.lower():
        return None
    return view.body
