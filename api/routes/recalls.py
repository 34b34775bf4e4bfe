"""Routes: recall notices and their progress (`domain.recalls`). A member holding units of
a recalled lot acknowledges the recall notice; the regulator reads, per holder, what is
outstanding, who acknowledged and who is past the level's deadline (1/3/7 days). The
regulator orders and closes recalls in `api.routes.regulator`, with its other orders.

Acknowledgements are made on the partner API and live in its own database
(`settings.api_db_url`). The regulator's deployment has its own: it pulls them through the
oversight feed (`GET /v1/partner/oversight/acknowledgements`, regulator member only;
`api.oversight_feed`, `api.oversight_pull`) and answers from its copy.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from medledger.api.routes.trace import UnitsOut
from medledger.domain.oversight_feed import (
    MAX_PAGE,
    AckCursor,
    AckPage,
    AckRecord,
    acknowledgement_page,
)
from medledger.domain.partner_schemas import PROBLEMS
from medledger.domain.recalls import Acknowledgement, acknowledge, recall_progress
from medledger.web.deps import ConnDep, ServicesDep
from medledger.web.members import CurrentMember
from medledger.web.oversight import RegulatorMemberOnly, RegulatorOnly

__all__ = ["router"]

router = APIRouter(responses=PROBLEMS)

RecallId = Annotated[int, Path(ge=1, le=2**32 - 1)]


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=2000, description="e.g. who was informed")


def _out(ack: Acknowledgement) -> AckRecord:
    return AckRecord.model_validate(asdict(ack))


@router.post(
    "/v1/partner/recalls/{recall_id}/acknowledgement",
    response_model=AckRecord,
    tags=["partner"],
)
def acknowledge_recall(
    recall_id: RecallId,
    body: AcknowledgeIn,
    member: CurrentMember,
    services: ServicesDep,
    conn: ConnDep,
) -> AckRecord:
    """Acknowledge a recall notice for the units the member holds; the first
    acknowledgement stands (sending it again returns it)."""
    ack = acknowledge(
        services,
        conn,
        recall_id,
        holder=member.address,
        by=member.method,
        note=body.note,
        now=int(time.time()),
    )
    return _out(ack)


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
