"""Running a recall: the manufacturer (or the regulator, which may order a recall of any
lot) issues it with a notice, updates the notice and closes it; each holder in scope reads
the notice and acknowledges it, signed with its own key. The read side (progress, notices
list, the summary) is `domain.recalls`.

The notice (reason, required action, scope, contact) is a sealed record
(`domain.records`, kind RECALL_NOTICE, then RECALL_UPDATE per new version) readable by
its author, the lot's manufacturer, the regulator and every holder in scope: a holder is
let in when it reads the notice while its stock is in scope (`holder_notice`), so holders
that appear later are reached too. The chain carries only the record's salted commitment,
as `Devices.recallLot`'s reasonHash and `Devices.updateRecall`'s noticeCommitment.

A holder's acknowledgement is a RECALL_ACK record (the notice version read, units returned
and destroyed, a note) for the manufacturer and the regulator, committed on chain by
`Devices.acknowledgeRecall`, sent from the holder's own (custodial) key.

Closing a recall with units still in the field or holders that have not acknowledged needs
a reason and an explicit confirmation (`confirm_outstanding`); otherwise it is refused with
`recall_outstanding_unconfirmed`. The closure is a RECALL_CLOSURE record (reason, what was
outstanding) whose commitment is `closeRecall`'s outcomeHash.

These are plain functions: a maker-checker (`domain.approvals`) can put `issue`, `update`
and `close` behind an approval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from medledger.domain import items, records
from medledger.domain.auth import Member
from medledger.domain.devices import member_ledger
from medledger.domain.errors import Conflict, Forbidden, NotFound, Unprocessable
from medledger.domain.partner_schemas import ItemsIn, OperationOut
from medledger.domain.recalls import (
    NoticeText,
    RecallAction,
    RecallContact,
    RecallProblem,
    RecallProgress,
    RecallReason,
    RecallScopeText,
    RecallSerials,
    notice_text,
    recall_progress,
)
from medledger.domain.regulator import (
    MAX_REASON,
    Written,
    regulator_account,
    regulator_ledger,
    settled_order,
)
from medledger.domain.services import Services
from medledger.indexer.queries.recalls import lot_reached, notice_versions
from medledger.sdk.errors import ContractError
from medledger.sdk.gs1 import lot_key, validate_gtin
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import Role

__all__ = [
    "AckIn",
    "CloseCheck",
    "IssuedRecall",
    "NoticeIn",
    "acknowledge_signed",
    "close",
    "close_check",
    "destroy_recalled",
    "holder_notice",
    "issue",
    "seal_notice",
    "update",
]


class NoticeIn(BaseModel):
    """A recall notice as its author writes it (every version is complete). The portal's
    forms require the action and the contact; the API keeps them optional for clients
    written before notices were readable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    reason: RecallReason
    action: RecallAction = ""
    scope: RecallScopeText = ""
    serials: RecallSerials = Field(default_factory=list)
    contact: RecallContact = ""

    def body(self, *, level: int, gtin: str, lot: str, version: int) -> dict[str, Any]:
        return {
            "gtin": gtin,
            "lot": lot,
            "level": level,
            "version": version,
            "reason": self.reason.strip(),
            "action": self.action.strip(),
            "scope": self.scope.strip(),
            "serials": list(self.serials),
            "contact": self.contact.strip(),
        }


class AckIn(BaseModel):
    """A holder's acknowledgement: what it did with its units, in its own words."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    returned: int = Field(default=0, ge=0, le=10_000_000, description="units sent back")
    destroyed: int = Field(default=0, ge=0, le=10_000_000)
    note: str = Field(default="", max_length=2000, description="e.g. who was informed")


@dataclass(frozen=True, slots=True)
class IssuedRecall:
    recall_id: int
    written: Written
    notice_record: str  # the sealed notice's record id


def _signer(services: Services, by: Member | None) -> tuple[Ledger, str]:
    """The ledger handle and address that sign: the member's custodial key, or the
    regulator deployment's key when `by` is None."""
    if by is None:
        return regulator_ledger(services), str(regulator_account(services).address).lower()
    if by.role not in (Role.MANUFACTURER, Role.REGULATOR):
        raise Forbidden(RecallProblem.RUNS_RECALLS, "only a manufacturer or a regulator does this")
    return member_ledger(services, by), by.address.lower()


def issue(
    services: Services,
    *,
    by: Member | None,
    gtin: str,
    lot: str,
    level: int,
    notice: NoticeIn,
) -> IssuedRecall:
    """Recall lot `lot` of `gtin` at `level` with `notice`, signed by the lot's
    manufacturer (`by`) or the regulator (`by` None or a regulator member); the chain
    refuses anyone else (`DevicesUnauthorized`)."""
    gtin = validate_gtin(gtin)
    key = lot_key(gtin, lot)
    ledger, author = _signer(services, by)
    # The chain's own refusals, before a notice is sealed for nothing.
    on_chain = ledger.lot(key)
    if on_chain is None:
        raise ContractError("DevicesUnknownLot", {"lotKey": key})
    if on_chain.active_recall:
        raise ContractError(
            "DevicesLotAlreadyRecalled", {"lotKey": key, "recallId": on_chain.active_recall}
        )
    record = seal_notice(
        services,
        author=author,
        manufacturer=_manufacturer_of(ledger, gtin),
        gtin=gtin,
        lot=lot,
        level=level,
        notice=notice,
    )
    result = ledger.recall_lot(key, level=level, reason_hash=record.commitment)
    written = settled_order(services, result)
    records.set_anchor(services, record.id, written.tx_hash)
    return IssuedRecall(result.value, written, record.id)


def seal_notice(
    services: Services,
    *,
    author: str,
    manufacturer: list[str],
    gtin: str,
    lot: str,
    level: int,
    notice: NoticeIn,
) -> records.SealedRecord:
    """The first version of a recall's notice, sealed for its author, the manufacturer
    and the regulator; its `commitment` is the reasonHash `Devices.recallLot` takes."""
    return records.seal(
        services,
        kind=records.RecordKind.RECALL_NOTICE,
        author=author,
        readers=manufacturer,
        subject_id=lot_key(gtin, lot),
        body=notice.body(level=level, gtin=gtin, lot=lot, version=1),
    )


def _manufacturer_of(ledger: Ledger, gtin: str) -> list[str]:
    product = ledger.product(gtin)
    return [] if product is None else [product.manufacturer.lower()]


def update(
    services: Services,
    conn: Connection,
    *,
    by: Member | None,
    recall_id: int,
    notice: NoticeIn,
) -> Written:
    """Publish a new, complete version of the recall's notice (action changed, scope
    widened); holders already let in read it at once."""
    progress = recall_progress(services, conn, recall_id)
    if not progress.scope.open:
        raise Conflict(RecallProblem.CLOSED, f"recall {recall_id} is closed")
    ledger, author = _signer(services, by)
    version = len(notice_versions(conn, recall_id)) + 1
    # holders in scope now; any other is let in when it reads the notice (`holder_notice`)
    readers = [progress.scope.manufacturer.address, *(h.holder.address for h in progress.holders)]
    record = records.seal(
        services,
        kind=records.RecordKind.RECALL_UPDATE,
        author=author,
        readers=readers,
        subject_id=lot_key(progress.gtin, progress.lot),
        body=notice.body(
            level=progress.scope.level, gtin=progress.gtin, lot=progress.lot, version=version
        ),
    )
    written = settled_order(
        services, ledger.update_recall(recall_id, notice_commitment=record.commitment)
    )
    records.set_anchor(services, record.id, written.tx_hash)
    return written


@dataclass(frozen=True, slots=True)
class CloseCheck:
    """What is still open when a recall is to be closed."""

    outstanding: int  # units still in the field
    unacknowledged: list[str]  # holders (addresses) with stock that never acknowledged

    @property
    def clean(self) -> bool:
        return self.outstanding == 0 and not self.unacknowledged


def close_check(progress: RecallProgress) -> CloseCheck:
    return CloseCheck(
        progress.scope.outstanding,
        [
            h.holder.address
            for h in progress.holders
            if h.acknowledgement is None and h.outstanding > 0
        ],
    )


def close(
    services: Services,
    conn: Connection,
    *,
    by: Member | None,
    recall_id: int,
    reason: str = "",
    confirm_outstanding: bool = False,
) -> Written:
    """Close the recall. With units outstanding or holders unacknowledged, only with a
    reason and `confirm_outstanding` (else `recall_outstanding_unconfirmed`, 409); the
    closure record keeps what was left and why."""
    progress = recall_progress(services, conn, recall_id)
    if not progress.scope.open:
        raise Conflict(RecallProblem.CLOSED, f"recall {recall_id} is closed")
    check = close_check(progress)
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise Unprocessable(RecallProblem.REASON_TOO_LONG, f"at most {MAX_REASON} characters")
    if not check.clean and not (confirm_outstanding and reason):
        raise Conflict(
            RecallProblem.OUTSTANDING_UNCONFIRMED,
            f"recall {recall_id} has {check.outstanding} units outstanding and "
            f"{len(check.unacknowledged)} holders unacknowledged: give a reason and confirm",
        )
    ledger, author = _signer(services, by)
    record = records.seal(
        services,
        kind=records.RecordKind.RECALL_CLOSURE,
        author=author,
        readers=[progress.scope.manufacturer.address],
        subject_id=lot_key(progress.gtin, progress.lot),
        body={
            "recall_id": recall_id,
            "reason": reason,
            "outstanding": check.outstanding,
            "unacknowledged": check.unacknowledged,
            "confirmed_outstanding": not check.clean,
        },
    )
    written = settled_order(
        services, ledger.close_recall(recall_id, outcome_hash=record.commitment)
    )
    records.set_anchor(services, record.id, written.tx_hash)
    return written


def _in_scope(services: Services, conn: Connection, recall_id: int, holder: str) -> RecallProgress:
    """The progress of a recall whose scope holds `holder`: NotFound when the lot never
    reached it (existence does not leak), Forbidden when it holds nothing now."""
    progress = recall_progress(services, conn, recall_id)
    if any(h.holder.address == holder for h in progress.holders):
        return progress
    if not lot_reached(conn, lot_index=progress.scope.lot_index, organisation=holder):
        raise NotFound(RecallProblem.UNKNOWN, f"no recall {recall_id} on the ledger")
    raise Forbidden(
        RecallProblem.NOT_IN_SCOPE, f"{holder} holds no units of recall {recall_id}'s lot"
    )


def holder_notice(
    services: Services, conn: Connection, recall_id: int, *, holder: str
) -> NoticeText | None:
    """The current notice for a holder in the recall's scope, sharing every version of it
    with the holder first (a holder that came into scope after the recall opened is let
    in here). NotFound/Forbidden as `_in_scope`."""
    _in_scope(services, conn, recall_id, holder)
    for v in notice_versions(conn, recall_id):
        view = records.by_commitment(services, v.commitment, reader="", regulator=True)
        if view is not None:
            records.share(services, view.record.id, holder)
    return notice_text(services, conn, recall_id, reader=holder, regulator=False)


def acknowledge_signed(
    services: Services,
    conn: Connection,
    recall_id: int,
    *,
    member: Member,
    ack: AckIn,
) -> Written:
    """The holder's acknowledgement: a RECALL_ACK record for the manufacturer and the
    regulator, committed on chain by `Devices.acknowledgeRecall` from the holder's key.
    Acknowledging again adds a later record (e.g. more units returned)."""
    holder = member.address
    progress = _in_scope(services, conn, recall_id, holder)
    if not progress.scope.open:
        raise Conflict(RecallProblem.CLOSED, f"recall {recall_id} is closed")
    notice = holder_notice(services, conn, recall_id, holder=holder)
    record = records.seal(
        services,
        kind=records.RecordKind.RECALL_ACK,
        author=holder,
        readers=[progress.scope.manufacturer.address],
        subject_id=lot_key(progress.gtin, progress.lot),
        body={
            "recall_id": recall_id,
            "notice_version": 0 if notice is None else notice.version,
            "returned": ack.returned,
            "destroyed": ack.destroyed,
            "note": ack.note.strip(),
        },
    )
    result = member_ledger(services, member).acknowledge_recall(
        recall_id, commitment=record.commitment
    )
    written = settled_order(services, result)
    records.set_anchor(services, record.id, written.tx_hash)
    return written


MAX_DESTROY_UNITS = 200


def destroy_recalled(
    services: Services,
    conn: Connection,
    recall_id: int,
    *,
    member: Member,
    units: list[tuple[bytes, str]],
    note: str = "",
) -> OperationOut:
    """A holder destroys serialised units of the recalled lot it holds (`units`: item id
    and the code read, at most `MAX_DESTROY_UNITS`), signed with its key; the destruction
    record (codes, note) is sealed for the manufacturer and the regulator and its salted
    commitment is the destroy call's recordHash. The chain refuses a unit it does not hold."""
    progress = _in_scope(services, conn, recall_id, member.address)
    if not units or len(units) > MAX_DESTROY_UNITS:
        raise Unprocessable(
            RecallProblem.DESTROY_COUNT, f"give 1 to {MAX_DESTROY_UNITS} units to destroy"
        )
    if len(note) > 2000:
        raise Unprocessable(RecallProblem.REASON_TOO_LONG, "a note may be 2000 characters")
    record = records.seal(
        services,
        kind=records.RecordKind.DESTRUCTION,
        author=member.address,
        readers=[progress.scope.manufacturer.address],
        subject_id=lot_key(progress.gtin, progress.lot),
        body={
            "recall_id": recall_id,
            "codes": [code for _, code in units],
            "note": note.strip(),
        },
    )
    order = ItemsIn.model_validate(
        {
            "item_ids": ["0x" + item.hex() for item, _ in units],
            "record_hash": "0x" + record.commitment.hex(),
        }
    )
    done = items.destroy(services, member=member, items=order)
    if done.tx_hash:
        records.set_anchor(services, record.id, done.tx_hash)
    return done
