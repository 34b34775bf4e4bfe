"""Routes: recalls on the partner API (`domain.recall_actions`, `domain.recalls`). The
manufacturer recalls a lot of its own with a readable notice (`POST
/v1/partner/recalls/notice`), publishes new notice versions and closes it (with units
outstanding or holders unacknowledged only with a reason and `confirm_outstanding`); a
member holding units of a recalled lot reads its notices (`GET /v1/partner/recalls`,
`.../{id}/notice`) and acknowledges, signed on chain with its key. The regulator reads,
per holder, what is outstanding, who acknowledged and who is past the level's deadline;
it orders and closes recalls in `api.routes.regulator`. The older `POST
/v1/partner/recalls`, which took a client-computed reason hash, is retired in favour of
`POST /v1/partner/recalls/notice`.

A member's credential here (an ERP) is one actor: these routes act at once. The
maker-checker (`domain.recall_approvals`) is for people in the portal.

The regulator's deployment also pulls the unsigned acknowledgements of before through the
oversight feed (`GET /v1/partner/oversight/acknowledgements`, regulator member only).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from medledger.api.routes.trace import UnitsOut
from medledger.domain import recall_actions
from medledger.domain.auth import Member
from medledger.domain.errors import Forbidden, NotFound
from medledger.domain.oversight_feed import (
    MAX_PAGE,
    AckCursor,
    AckPage,
    AckRecord,
    acknowledgement_page,
)
from medledger.domain.partner_schemas import PROBLEMS
from medledger.domain.recall_actions import AckIn, NoticeIn, acknowledge_signed, holder_notice
from medledger.domain.recalls import (
    Acknowledgement,
    Gtin,
    LotNumber,
    NoticeText,
    RecallLevel,
    RecallOutcome,
    RecallProblem,
    RecallSummary,
    notice_text,
    recall_notices,
    recall_progress,
    recall_summary,
)
from medledger.domain.regulator import Written
from medledger.domain.services import Services
from medledger.sdk.model import Role
from medledger.web.deps import ConnDep, ServicesDep
from medledger.web.members import CurrentMember
from medledger.web.oversight import RegulatorMemberOnly, RegulatorOnly

__all__ = ["router"]

router = APIRouter(responses=PROBLEMS)

RecallId = Annotated[int, Path(ge=1, le=2**32 - 1)]


def _out(ack: Acknowledgement) -> AckRecord:
    return AckRecord.model_validate(asdict(ack))


class SignedOut(BaseModel):
    tx_hash: str
    block_number: int
    indexed: bool = Field(description="whether the read model showed the block before the answer")


def _signed(w: Written) -> SignedOut:
    return SignedOut(tx_hash=w.tx_hash, block_number=w.block_number, indexed=w.indexed)


@router.post(
    "/v1/partner/recalls/{recall_id}/acknowledgement",
    response_model=SignedOut,
    tags=["partner"],
)
def acknowledge_recall(
    recall_id: RecallId,
    body: AckIn,
    member: CurrentMember,
    services: ServicesDep,
    conn: ConnDep,
) -> SignedOut:
    """Acknowledge a recall notice for the units the member holds, signed with its key on
    chain (`Devices.acknowledgeRecall`); the record (units returned, destroyed, a note) is
    sealed for the manufacturer and the regulator. Acknowledging again adds a later record;
    the first one's time counts against the deadline."""
    return _signed(acknowledge_signed(services, conn, recall_id, member=member, ack=body))


class NoticeOut(BaseModel):
    version: int
    reason: str
    action: str
    scope: str
    contact: str


class ManufacturerRecallIn(NoticeIn):
    gtin: Gtin
    lot: LotNumber
    level: RecallLevel


class IssuedOut(SignedOut):
    recall_id: int


def _manufacturer(member: Member) -> None:
    if member.role is not Role.MANUFACTURER:
        raise Forbidden("manufacturer_only", "only the lot's manufacturer runs its recall here")


@router.post(
    "/v1/partner/recalls/notice", response_model=IssuedOut, status_code=201, tags=["partner"]
)
def issue_recall(
    body: ManufacturerRecallIn, member: CurrentMember, services: ServicesDep
) -> IssuedOut:
    """Recall a lot of the manufacturer's own with a readable notice (reason, required
    action, scope, contact), sealed for the regulator and the holders in scope; only its
    salted commitment goes on chain."""
    _manufacturer(member)
    notice = NoticeIn.model_validate(body.model_dump(include=set(NoticeIn.model_fields)))
    issued = recall_actions.issue(
        services, by=member, gtin=body.gtin, lot=body.lot, level=body.level, notice=notice
    )
    return IssuedOut(recall_id=issued.recall_id, **_signed(issued.written).model_dump())


def _own_recall(services: Services, conn: ConnDep, recall_id: int, member: Member) -> None:
    """404 unless the member made the recalled lot (existence does not leak)."""
    progress = recall_progress(services, conn, recall_id)
    if progress.scope.manufacturer.address != member.address:
        raise NotFound(RecallProblem.UNKNOWN, f"no recall {recall_id} on the ledger")


@router.post("/v1/partner/recalls/{recall_id}/notice", response_model=SignedOut, tags=["partner"])
def update_recall(
    recall_id: RecallId, body: NoticeIn, member: CurrentMember, services: ServicesDep, conn: ConnDep
) -> SignedOut:
    """A new, complete version of the recall's notice (action changed, scope widened)."""
    _manufacturer(member)
    _own_recall(services, conn, recall_id, member)
    return _signed(
        recall_actions.update(services, conn, by=member, recall_id=recall_id, notice=body)
    )


class CloseRecallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: RecallOutcome = ""
    confirm_outstanding: bool = Field(
        default=False,
        description="close although units are outstanding or holders unacknowledged "
        "(needs `reason`)",
    )


@router.post("/v1/partner/recalls/{recall_id}/close", response_model=SignedOut, tags=["partner"])
def close_recall(
    recall_id: RecallId,
    body: CloseRecallIn,
    member: CurrentMember,
    services: ServicesDep,
    conn: ConnDep,
) -> SignedOut:
    """Close the manufacturer's own recall; with units outstanding or holders
    unacknowledged only with a reason and `confirm_outstanding: true` (409
    `recall_outstanding_unconfirmed` otherwise)."""
    _manufacturer(member)
    _own_recall(services, conn, recall_id, member)
    written = recall_actions.close(
        services,
        conn,
        by=member,
        recall_id=recall_id,
        reason=body.reason,
        confirm_outstanding=body.confirm_outstanding,
    )
    return _signed(written)


class MyRecallOut(BaseModel):
    recall_id: int
    level: int
    open: bool
    gtin: str
    lot: str
    opened_at: int
    deadline: int
    notice: NoticeOut | None
    outstanding: int = Field(description="units of the lot the member holds")
    acknowledged_at: int | None
    overdue: bool


@router.get("/v1/partner/recalls", response_model=list[MyRecallOut], tags=["partner"])
def my_recalls(member: CurrentMember, services: ServicesDep, conn: ConnDep) -> list[MyRecallOut]:
    """The open recalls reaching the member's stock, each with its notice (reason and
    required action) and the member's own line."""
    now = int(time.time())
    found = []
    for progress, mine in recall_notices(services, conn, holder=member.address):
        rid = progress.scope.recall_id
        notice = holder_notice(services, conn, rid, holder=member.address)
        ack = mine.acknowledgement
        found.append(
            MyRecallOut(
                recall_id=rid,
                level=progress.scope.level,
                open=progress.scope.open,
                gtin=progress.gtin,
                lot=progress.lot,
                opened_at=progress.opened_at,
                deadline=progress.deadline,
                notice=None if notice is None else _notice(notice),
                outstanding=mine.outstanding,
                acknowledged_at=None if ack is None else ack.acknowledged_at,
                overdue=mine.overdue(progress.deadline, now),
            )
        )
    return found


def _notice(n: NoticeText) -> NoticeOut:
    return NoticeOut(
        version=n.version, reason=n.reason, action=n.action, scope=n.scope, contact=n.contact
    )


@router.get("/v1/partner/recalls/{recall_id}/notice", response_model=NoticeOut, tags=["partner"])
def recall_notice(
    recall_id: RecallId, member: CurrentMember, services: ServicesDep, conn: ConnDep
) -> NoticeOut:
    """The recall's current notice, for the lot's manufacturer and holders in scope (404
    for an organisation the lot never reached)."""
    progress = recall_progress(services, conn, recall_id)
    if progress.scope.manufacturer.address == member.address or member.is_regulator:
        notice = notice_text(services, conn, recall_id, reader=member.address, regulator=True)
    else:
        notice = holder_notice(services, conn, recall_id, holder=member.address)
    if notice is None:
        raise NotFound(RecallProblem.NO_NOTICE, f"recall {recall_id} has no readable notice here")
    return _notice(notice)


class HolderAckOut(BaseModel):
    holder: str
    name: str
    outstanding: int
    dispensed: int
    units: UnitsOut | None = None
    acknowledgement: AckRecord | None
    overdue: bool


class RecallAcksOut(BaseModel):
    recall_id: int
    level: int
    open: bool
    opened_at: int
    deadline: int
    holders: list[HolderAckOut]


@router.get(
    "/v1/regulator/recalls/{recall_id}/acknowledgements",
    response_model=RecallAcksOut,
    tags=["regulator"],
    dependencies=[RegulatorOnly],
)
def recall_acknowledgements(
    recall_id: RecallId, services: ServicesDep, conn: ConnDep
) -> RecallAcksOut:
    """Every holder in the recall's scope with its acknowledgement, and whether it is
    overdue against the level's deadline."""
    progress = recall_progress(services, conn, recall_id)
    now = int(time.time())
    return RecallAcksOut(
        recall_id=recall_id,
        level=progress.scope.level,
        open=progress.scope.open,
        opened_at=progress.opened_at,
        deadline=progress.deadline,
        holders=[
            HolderAckOut(
                holder=h.holder.address,
                name=h.holder.name,
                outstanding=h.outstanding,
                dispensed=h.dispensed,
                units=UnitsOut.of(h.quantity),
                acknowledgement=None if h.acknowledgement is None else _out(h.acknowledgement),
                overdue=h.overdue(progress.deadline, now),
            )
            for h in progress.holders
        ],
    )


@router.get(
    "/v1/partner/oversight/acknowledgements",
    response_model=AckPage,
    tags=["oversight"],
    dependencies=[RegulatorMemberOnly],
)
def oversight_acknowledgements(
    services: ServicesDep,
    after: Annotated[
        str,
        Query(
            pattern=AckCursor.PATTERN,
            description="`acknowledged_at:recall_id:holder` of the last one read",
        ),
    ] = "0:0:",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 500,
) -> AckPage:
    """The regulator's feed of recall acknowledgements, in (time, recall, holder) order."""
    return acknowledgement_page(services, after=AckCursor.parse(after), limit=limit)


class HolderSummaryOut(BaseModel):
    holder: str
    name: str
    outstanding: int
    returned: int
    destroyed: int
    dispensed: int
    acknowledged_at: int | None
    late: bool


class RecallSummaryOut(BaseModel):
    """What the regulator's recall summary report shows; units count only once they left
    the manufacturer."""

    recall_id: int
    gtin: str
    lot: str
    product_name_zh: str | None
    product_name_en: str | None
    manufacturer: str
    manufacturer_name: str
    level: int
    open: bool
    opened_at: int
    deadline: int
    closed_at: int | None
    notice: NoticeOut | None
    outstanding: int
    returned: int
    destroyed: int
    dispensed: int
    acknowledged: int
    late: int
    done: float = Field(description="returned or destroyed, of the units that left the maker")
    holders: list[HolderSummaryOut]


def _summary_out(s: RecallSummary) -> RecallSummaryOut:
    return RecallSummaryOut(
        recall_id=s.recall_id,
        gtin=s.gtin,
        lot=s.lot,
        product_name_zh=s.product_name_zh,
        product_name_en=s.product_name_en,
        manufacturer=s.manufacturer.address,
        manufacturer_name=s.manufacturer.name,
        level=s.level,
        open=s.open,
        opened_at=s.opened_at,
        deadline=s.deadline,
        closed_at=s.closed_at,
        notice=None if s.notice is None else _notice(s.notice),
        outstanding=s.outstanding,
        returned=s.returned,
        destroyed=s.destroyed,
        dispensed=s.dispensed,
        acknowledged=s.acknowledged,
        late=s.late,
        done=s.done,
        holders=[
            HolderSummaryOut(
                holder=h.holder.address,
                name=h.holder.name,
                outstanding=h.outstanding,
                returned=h.returned,
                destroyed=h.destroyed,
                dispensed=h.dispensed,
                acknowledged_at=h.acknowledged_at,
                late=h.late,
            )
            for h in s.holders
        ],
    )


@router.get(
    "/v1/regulator/recalls/{recall_id}/summary",
    response_model=RecallSummaryOut,
    tags=["regulator"],
    dependencies=[RegulatorOnly],
)
def regulator_recall_summary(
    recall_id: RecallId, services: ServicesDep, conn: ConnDep
) -> RecallSummaryOut:
    """The recall's summary: notice, dates, deadline, per holder outstanding, returned,
    destroyed, dispensed, acknowledgement and whether it is late."""
    return _summary_out(recall_summary(services, conn, recall_id))


@router.get(
    "/v1/partner/recalls/{recall_id}/summary", response_model=RecallSummaryOut, tags=["partner"]
)
def manufacturer_recall_summary(
    recall_id: RecallId, member: CurrentMember, services: ServicesDep, conn: ConnDep
) -> RecallSummaryOut:
    """The same summary for the lot's manufacturer (404 for anyone else)."""
    _own_recall(services, conn, recall_id, member)
    return _summary_out(recall_summary(services, conn, recall_id))
