"""Routes: recall acknowledgements (`api.recall_acks`). A member holding units of a
recalled lot acknowledges the recall notice; the regulator reads, per holder, what is
outstanding, who acknowledged and who is past the level's deadline (1/3/7 days).

Acknowledgements live in the API's own database (`settings.api_db_url`): point the
partner and regulator processes at the same one for the regulator to see them.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentMember
from api.deps import ConnDep, ServicesDep
from api.oversight import RegulatorOnly
from api.partner_schemas import PROBLEMS
from api.recall_acks import Acknowledgement, acknowledge, recall_progress

__all__ = ["router"]

router = APIRouter(responses=PROBLEMS)

RecallId = Annotated[int, Path(ge=1, le=2**32 - 1)]


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=2000, description="e.g. who was informed")


class AcknowledgementOut(BaseModel):
    recall_id: int
    holder: str
    acknowledged_at: int
    acknowledged_by: str
    note: str


def _out(ack: Acknowledgement) -> AcknowledgementOut:
    return AcknowledgementOut(
        recall_id=ack.recall_id,
        holder=ack.holder,
        acknowledged_at=ack.acknowledged_at,
        acknowledged_by=ack.acknowledged_by,
        note=ack.note,
    )


@router.post(
    "/v1/partner/recalls/{recall_id}/acknowledgement",
    response_model=AcknowledgementOut,
    tags=["partner"],
)
def acknowledge_recall(
    recall_id: RecallId,
    body: AcknowledgeIn,
    member: CurrentMember,
    services: ServicesDep,
    conn: ConnDep,
) -> AcknowledgementOut:
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
    acknowledgement: AcknowledgementOut | None
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
                acknowledgement=None if h.acknowledgement is None else _out(h.acknowledgement),
                overdue=h.overdue(progress.deadline, now),
            )
            for h in progress.holders
        ],
    )
