"""Recall acknowledgements: each organisation holding units of a recalled lot confirms it
has received the recall notice, by the deadline of the recall's level.

Deadlines follow the recall levels of China's medical-device recall rules (医疗器械召回
管理办法, art. 17): holders are to be reached within 1 day for a level 1 recall, 3 days for
level 2 and 7 days for level 3, counted from the block that opened the recall.

Acknowledgements are off-chain facts kept in the API's own database (`domain.store`), table
`api_recall_acknowledgements` (`indexer.store.recalls`); the first acknowledgement of a holder
is kept (acknowledging again changes nothing). Holders acknowledge on the partner API; the
regulator's deployment keeps a copy, pulled through the oversight feed
(`api.oversight_feed`). `recall_progress` joins them to the
indexer's recall scope (`indexer.queries.recall_scope`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from domain.errors import Conflict, Forbidden, NotFound
from domain.services import Services
from domain.store import api_store
from indexer.db import Sql
from indexer.queries import OrgRef, RecallScope, recall_scope
from indexer.store.recalls import Acknowledgement, acknowledgements_of, add_acknowledgement

__all__ = [
    "NOTICE_DAYS",
    "Acknowledgement",
    "HolderProgress",
    "RecallProgress",
    "acknowledge",
    "recall_progress",
]

NOTICE_DAYS = {1: 1, 2: 3, 3: 7}
DAY = 86_400


@dataclass(frozen=True, slots=True)
class HolderProgress:
    holder: OrgRef
    outstanding: int
    dispensed: int
    acknowledgement: Acknowledgement | None

    def overdue(self, deadline: int, now: int) -> bool:
        """Not acknowledged and past the deadline, or acknowledged after it."""
        ack = self.acknowledgement
        return now > deadline if ack is None else ack.acknowledged_at > deadline


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

    @property
    def deadline(self) -> int:
        return self.opened_at + NOTICE_DAYS.get(self.scope.level, 7) * DAY

    @property
    def acknowledged(self) -> int:
        return sum(1 for h in self.holders if h.acknowledgement is not None)


def _times(conn: Connection, recall_id: int) -> tuple[str, str, int, int | None, int, bytes | None]:
    row = Sql(conn).rows(
        "SELECT l.gtin, l.lot_number, o.timestamp, c.timestamp, r.opened_block, "
        "r.opened_tx_hash FROM recalls r JOIN lots l ON l.lot_index = r.lot_index "
        "JOIN blocks o ON o.number = r.opened_block "
        "LEFT JOIN blocks c ON c.number = r.closed_block WHERE r.id = ?",
        (recall_id,),
    )[0]
    return (
        str(row[0]),
        str(row[1]),
        int(row[2]),
        None if row[3] is None else int(row[3]),
        int(row[4]),
        None if row[5] is None else bytes(row[5]),
    )


def recall_progress(services: Services, conn: Connection, recall_id: int) -> RecallProgress:
    """A recall's scope per holder with each holder's acknowledgement (404 if unknown)."""
    scope = recall_scope(conn, recall_id)
    if scope is None:
        raise NotFound("unknown_recall", f"no recall {recall_id} on the ledger")
    gtin, lot, opened_at, closed_at, opened_block, opened_tx = _times(conn, recall_id)
    acks = acknowledgements_of(api_store(services).engine, recall_id)
    holders = [
        HolderProgress(h.holder, h.outstanding, h.dispensed, acks.get(h.holder.address))
        for h in scope.holders
    ]
    return RecallProgress(scope, gtin, lot, opened_at, closed_at, holders, opened_block, opened_tx)


def acknowledge(
    services: Services,
    conn: Connection,
    recall_id: int,
    *,
    holder: str,
    by: str,
    note: str,
    now: int,
) -> Acknowledgement:
    """Record that `holder` received the recall notice. Only a holder in the recall's
    scope may; a recall the holder's stock never reached is not disclosed (404)."""
    progress = recall_progress(services, conn, recall_id)
    mine = next((h for h in progress.holders if h.holder.address == holder), None)
    if mine is None:
        reached = Sql(conn).one(
            "SELECT 1 FROM lot_reach r JOIN organisations o ON o.id = r.organisation_id "
            "WHERE r.lot_index = ? AND o.address = ?",
            (progress.scope.lot_index, holder),
        )
        if reached is None:
            raise NotFound("unknown_recall", f"no recall {recall_id} on the ledger")
        raise Forbidden(
            "not_in_recall_scope",
            f"{holder} holds no units of recall {recall_id}'s lot, so has nothing to acknowledge",
        )
    if mine.acknowledgement is not None:
        return mine.acknowledgement
    if not progress.scope.open:
        raise Conflict("recall_closed", f"recall {recall_id} is closed")
    ack = Acknowledgement(recall_id, holder, now, by, note)
    return add_acknowledgement(api_store(services).engine, ack)
