"""Recalls, the read side both faces call: each organisation holding units of a recalled
lot sees the notice (`recall_notices`), by the deadline of the recall's level
(`notice_deadline`); the recall centre follows the recall per holder (`recall_progress`,
`indexed_progress`) and in its list (`recall_list`); `recall_summary` is everything the
regulator's summary report shows (helper "exports" renders it as PDF/XLSX). Issuing,
updating and closing a recall and the holders' signed acknowledgements are
`domain.recall_actions`; the read model's side is `indexer.queries.recalls`.

Deadlines follow the recall levels of China's medical-device recall rules (医疗器械召回
管理办法, art. 17): holders are to be reached within 1 day for a level 1 recall, 3 days for
level 2 and 7 days for level 3, counted from the block that opened the recall.

Acknowledgements are signed on chain by the holder (`Devices.acknowledgeRecall`, indexed
as `recall_ack_events`); a holder's first one counts against the deadline. The API table
`api_recall_acknowledgements` (`indexer.store.recalls`) holds the unsigned rows of before
(a cache the oversight feed still serves); a signed acknowledgement takes precedence.

Progress counts only units that left the manufacturer: what it never shipped is neither
outstanding nor returned (`recall_summary`, `indexer.queries.recalls.returned_from_field`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Annotated, NamedTuple

import requests
from pydantic import Field
from sqlalchemy import Connection

from medledger.domain import records
from medledger.domain.chain import reader
from medledger.domain.errors import NotConfigured, NotFound
from medledger.domain.master_data import MasterRecord, current_record
from medledger.domain.regulator import MAX_REASON, regulator_ledger
from medledger.domain.services import Services
from medledger.domain.store import api_store
from medledger.indexer.queries import OrgRef
from medledger.indexer.queries.lot_quantities import LotHolding
from medledger.indexer.queries.recalls import (
    RecallRow,
    RecallScope,
    ReturnedFrom,
    chain_acks,
    destroyed_by_holder,
    notice_versions,
    open_recalls_holding,
    recall_dates,
    recall_rows,
    recall_scope,
    returned_from_field,
)
from medledger.indexer.store.recalls import (
    Acknowledgement,
    acknowledgements_of,
)

__all__ = [
    "NOTICE_DAYS",
    "Acknowledgement",
    "Gtin",
    "HolderProgress",
    "ListedRecall",
    "LotNumber",
    "RecallAction",
    "RecallContact",
    "RecallLevel",
    "RecallNotice",
    "RecallOutcome",
    "RecallProblem",
    "HolderSummary",
    "NoticeText",
    "RecallProgress",
    "RecallReason",
    "RecallScopeText",
    "RecallSerials",
    "RecallSummary",
    "indexed_progress",
    "notice_deadline",
    "recall_list",
    "recall_notices",
    "recall_on_ledger",
    "recall_progress",
    "recall_summary",
]

NOTICE_DAYS = {1: 1, 2: 3, 3: 7}
DAY = 86_400


@dataclass(frozen=True, slots=True)
class HolderProgress:
    holder: OrgRef
    outstanding: int
    dispensed: int
    acknowledgement: Acknowledgement | None
    quantity: LotHolding | None = None  # a lot tracked by quantity: its units by state

    def overdue(self, deadline: int, now: int) -> bool:
        """Not acknowledged and past the deadline, or acknowledged after it."""
        ack = self.acknowledgement
        return now > deadline if ack is None else ack.acknowledged_at > deadline


class RecallProblem(StrEnum):
    UNKNOWN = "unknown_recall"
    NOT_IN_SCOPE = "not_in_recall_scope"
    CLOSED = "recall_closed"
    OUTSTANDING_UNCONFIRMED = "recall_outstanding_unconfirmed"
    REASON_TOO_LONG = "recall_reason_too_long"
    RUNS_RECALLS = "recall_manufacturer_or_regulator_only"
    NO_NOTICE = "recall_notice_unavailable"
    DESTROY_COUNT = "recall_destroy_count"
    WRONG_LOT = "recall_unit_not_of_lot"


def notice_deadline(level: int, opened_at: int) -> int:
    """When holders must have been reached for a recall of `level` opened at `opened_at`
    (unix seconds); an unknown level gets the longest term."""
    return opened_at + NOTICE_DAYS.get(level, 7) * DAY


@dataclass(frozen=True, slots=True)
class RecallProgress:
    scope: RecallScope
    gtin: str
    lot: str
    opened_at: int  # unix seconds of the opening block
    closed_at: int | None
    holders: list[HolderProgress]
    opened_block: int
    opened_tx: bytes | None  # None for recalls indexed before migration 0003
    master: MasterRecord | None = None  # the product's public master data, if anchored

    @property
    def deadline(self) -> int:
        return notice_deadline(self.scope.level, self.opened_at)

    @property
    def acknowledged(self) -> int:
        return sum(1 for h in self.holders if h.acknowledgement is not None)


def recall_progress(services: Services, conn: Connection, recall_id: int) -> RecallProgress:
    """A recall's scope per holder with each holder's acknowledgement (404 if unknown)."""
    scope = recall_scope(conn, recall_id)
    dates = None if scope is None else recall_dates(conn, recall_id)
    if scope is None or dates is None:
        raise NotFound(RecallProblem.UNKNOWN, f"no recall {recall_id} on the ledger")
    acks = signed_acknowledgements(conn, recall_id)
    for holder, ack in acknowledgements_of(api_store(services).engine, recall_id).items():
        acks.setdefault(holder, ack)  # an unsigned row of before the signed ones (a cache)
    holders = [
        HolderProgress(h.holder, h.outstanding, h.dispensed, acks.get(h.holder.address), h.quantity)
        for h in scope.holders
    ]
    return RecallProgress(
        scope,
        dates.gtin,
        dates.lot,
        dates.opened_at,
        dates.closed_at,
        holders,
        dates.opened_block,
        dates.opened_tx,
        current_record(services, dates.gtin),
    )


def signed_acknowledgements(conn: Connection, recall_id: int) -> dict[str, Acknowledgement]:
    """Each holder's first signed acknowledgement on chain (`Devices.acknowledgeRecall`):
    its time is the block's, `acknowledged_by` the transaction hash (hex, no 0x)."""
    first: dict[str, Acknowledgement] = {}
    for a in chain_acks(conn, recall_id):
        first.setdefault(a.holder, Acknowledgement(recall_id, a.holder, a.at, a.tx_hash.hex(), ""))
    return first


class RecallNotice(NamedTuple):
    """An open recall reaching a holder's stock, with the holder's own line of it."""

    progress: RecallProgress
    mine: HolderProgress


def recall_notices(services: Services, conn: Connection, *, holder: str) -> list[RecallNotice]:
    """Open recalls of lots `holder` holds units of, newest first."""
    found = []
    for recall_id in open_recalls_holding(conn, holder):
        progress = recall_progress(services, conn, recall_id)
        mine = next((h for h in progress.holders if h.holder.address == holder), None)
        if mine is not None:
            found.append(RecallNotice(progress, mine))
    return found


@dataclass(frozen=True, slots=True)
class ListedRecall(RecallRow):
    """A recall of the recall centre's list, with the deadline of its level."""

    @property
    def deadline(self) -> int:
        return notice_deadline(self.level, self.opened_at)


def recall_list(
    conn: Connection, *, limit: int = 200, manufacturer: str | None = None
) -> list[ListedRecall]:
    """Every recall (of `manufacturer`'s lots, if given), newest first, with its lot,
    dates and deadline."""
    names = [f.name for f in fields(RecallRow)]
    return [
        ListedRecall(**{n: getattr(r, n) for n in names})
        for r in recall_rows(conn, limit=limit, manufacturer=manufacturer)
    ]


# ------------------------------------------------------------------ the regulator's orders

# The limits of a recall order's inputs, for the API's request model and the portal's form.
Gtin = Annotated[str, Field(pattern=r"^[0-9]{8,14}$")]
LotNumber = Annotated[str, Field(min_length=1, max_length=20)]
RecallLevel = Annotated[int, Field(ge=1, le=3, description="1 (most serious) .. 3")]
RecallReason = Annotated[
    str,
    Field(
        min_length=1, max_length=MAX_REASON, description="sealed; its salted commitment on chain"
    ),
]
RecallOutcome = Annotated[
    str, Field(max_length=MAX_REASON, description="sealed; its salted commitment on chain")
]
RecallAction = Annotated[str, Field(max_length=MAX_REASON, description="required of holders")]
RecallScopeText = Annotated[str, Field(max_length=2000, description="e.g. a serial range")]
RecallSerials = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[\x21-\x7e]+$")]],
    Field(max_length=1000, description="specific units in scope, if not the whole lot"),
]
RecallContact = Annotated[str, Field(max_length=300, description="whom holders contact")]


def recall_on_ledger(services: Services, recall_id: int) -> bool:
    """Whether the chain holds recall `recall_id` (ids count up from 1; an id never issued
    reads as an empty record). The node we read is asked first; failing that, the node
    regulator orders are written to, since a follower may be a block behind it and a
    recall issued a moment ago must not look unknown."""
    if reader(services).recall(recall_id)["lot_index"] != 0:
        return True
    if services.settings.submit_rpc_url is None:
        return False
    try:
        return bool(regulator_ledger(services).recall(recall_id)["lot_index"] != 0)
    except NotConfigured:  # no regulator key: this deployment issued no recall
        return False
    except requests.ConnectionError:  # the sequencer is unreachable: cannot rule it out
        return True


def indexed_progress(services: Services, conn: Connection, recall_id: int) -> RecallProgress | None:
    """The recall's progress, or None while the indexer has not reached it yet; NotFound
    when the chain does not know it either (the indexer only ever lags the chain)."""
    try:
        return recall_progress(services, conn, recall_id)
    except NotFound:
        if not recall_on_ledger(services, recall_id):
            raise
        return None


# ------------------------------------------------------------------ the summary report


@dataclass(frozen=True, slots=True)
class NoticeText:
    """What the recall notice says (its sealed record's body): the reason, the action
    required of holders, the scope and whom to contact; `version` counts updates (1 = the
    first notice)."""

    reason: str
    action: str
    scope: str
    contact: str
    version: int = 1


@dataclass(frozen=True, slots=True)
class HolderSummary:
    """One holder's line of a recall: units still in its stock (`outstanding`), units it
    sent back to the manufacturer (`returned`), destroyed and dispensed; when it
    acknowledged and whether it is late (unacknowledged past the deadline, or acknowledged
    after it)."""

    holder: OrgRef
    outstanding: int
    returned: int
    destroyed: int
    dispensed: int
    acknowledged_at: int | None
    late: bool


@dataclass(frozen=True, slots=True)
class RecallSummary:
    """Everything a regulator's recall summary report shows. Units are counted only once
    they left the manufacturer: stock it never shipped is neither outstanding nor
    returned, so a fresh recall does not read as nearly done."""

    recall_id: int
    gtin: str
    lot: str
    product_name_zh: str | None  # from the product's public master data, if anchored
    product_name_en: str | None
    manufacturer: OrgRef
    level: int
    open: bool
    opened_at: int  # unix seconds
    deadline: int  # unix seconds: holders reached within 1/3/7 days of the level
    closed_at: int | None
    notice: NoticeText | None  # None while the notice is not readable here
    holders: list[HolderSummary]
    by_quantity: bool  # a lot tracked by quantity (figures are units of it either way)
    now: int  # when the summary was drawn (the late flags are as of then)

    @property
    def outstanding(self) -> int:
        return sum(h.outstanding for h in self.holders)

    @property
    def returned(self) -> int:
        return sum(h.returned for h in self.holders)

    @property
    def destroyed(self) -> int:
        return sum(h.destroyed for h in self.holders)

    @property
    def dispensed(self) -> int:
        return sum(h.dispensed for h in self.holders)

    @property
    def acknowledged(self) -> int:
        return sum(1 for h in self.holders if h.acknowledged_at is not None)

    @property
    def late(self) -> int:
        return sum(1 for h in self.holders if h.late)

    @property
    def done(self) -> float:
        """Share of the units that left the manufacturer (and were not used on patients)
        that are back or destroyed; 1.0 when none are out."""
        settled = self.returned + self.destroyed
        total = settled + self.outstanding
        return 1.0 if total == 0 else settled / total


def holder_lines(
    services: Services, conn: Connection, progress: RecallProgress, *, now: int
) -> list[HolderSummary]:
    """Per field holder (not the manufacturer) its outstanding, returned, destroyed and
    dispensed units and acknowledgement; holders that hold nothing now but sent units back
    or destroyed them appear too."""
    maker = progress.scope.manufacturer.address
    returned = {r.address: r for r in returned_from_field(conn, progress.scope.lot_index)}
    destroyed = destroyed_by_holder(conn, progress.scope.lot_index)
    acks = signed_acknowledgements(conn, progress.scope.recall_id)
    cached = acknowledgements_of(api_store(services).engine, progress.scope.recall_id)
    for holder, cached_ack in cached.items():
        acks.setdefault(holder, cached_ack)

    def units(found: dict[str, ReturnedFrom], address: str) -> int:
        row = found.get(address)
        return 0 if row is None else row.units

    lines: list[HolderSummary] = []
    for h in progress.holders:
        a = h.holder.address
        ack = h.acknowledgement
        lines.append(
            HolderSummary(
                h.holder,
                h.outstanding,
                units(returned, a),
                units(destroyed, a),
                h.dispensed,
                None if ack is None else ack.acknowledged_at,
                h.overdue(progress.deadline, now),
            )
        )
    seen = {h.holder.address for h in progress.holders} | {maker}
    for a, row in sorted({**destroyed, **returned}.items()):
        if a in seen:
            continue
        signed = acks.get(a)
        lines.append(
            HolderSummary(
                OrgRef(a, row.name),
                0,
                units(returned, a),
                units(destroyed, a),
                0,
                None if signed is None else signed.acknowledged_at,
                False,  # holds nothing: nothing left to be late with
            )
        )
    return lines


def recall_summary(
    services: Services, conn: Connection, recall_id: int, *, now: int | None = None
) -> RecallSummary:
    """The regulator's summary of recall `recall_id` (NotFound if unknown). The faces
    check who may read it (the regulator and the lot's manufacturer)."""
    when = int(time.time()) if now is None else now
    progress = recall_progress(services, conn, recall_id)
    master = progress.master
    return RecallSummary(
        recall_id=recall_id,
        gtin=progress.gtin,
        lot=progress.lot,
        product_name_zh=None if master is None else master.name_zh,
        product_name_en=None if master is None or not master.name_en else master.name_en,
        manufacturer=progress.scope.manufacturer,
        level=progress.scope.level,
        open=progress.scope.open,
        opened_at=progress.opened_at,
        deadline=progress.deadline,
        closed_at=progress.closed_at,
        notice=notice_text(services, conn, recall_id),
        holders=holder_lines(services, conn, progress, now=when),
        by_quantity=progress.scope.by_quantity,
        now=when,
    )


def notice_text(
    services: Services,
    conn: Connection,
    recall_id: int,
    *,
    reader: str = "",
    regulator: bool = True,
) -> NoticeText | None:
    """The newest version of the recall's notice that `reader` may read (by default as
    the regulator), from its sealed record; None when none is stored here or shared with
    the reader (e.g. a recall issued before notices were sealed)."""
    for v in reversed(notice_versions(conn, recall_id)):
        view = records.by_commitment(services, v.commitment, reader=reader, regulator=regulator)
        if view is not None:
            b = view.body
            return NoticeText(
                str(b.get("reason", "")),
                str(b.get("action", "")),
                str(b.get("scope", "")),
                str(b.get("contact", "")),
                v.version,
            )
    return None
