"""EPCIS 2.0 capture jobs (table `epcis_capture_jobs`, in the capture log's database): each
accepted document's job, its member, its state and its per-event report.

A job is `running` from acceptance until its runner writes `success` or `failed` with the
report. The runner renews `heartbeat_at` while it works; a running job whose heartbeat is
older than HEARTBEAT_STALE_AFTER seconds belonged to a process that stopped (an API
restart): it reads as `interrupted`. Nothing is lost by that: the capture log
(`indexer.store.captures`) holds what each event applied, and posting the same document
again applies only the rest.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select, update

from medledger.indexer.store.tables import capture_jobs

__all__ = ["HEARTBEAT_STALE_AFTER", "CaptureJob", "CaptureJobs"]

HEARTBEAT_STALE_AFTER = 60
MAX_LISTED = 100


@dataclass(frozen=True, slots=True)
class CaptureJob:
    id: str
    member: str
    state: str  # running, success, failed, interrupted
    event_count: int
    created_at: int
    finished_at: int | None
    report: dict[str, Any] | None


class CaptureJobs:
    def __init__(self, engine: Engine, *, stale_after: int = HEARTBEAT_STALE_AFTER) -> None:
        self.engine = engine  # migrated by the capture log (`CaptureStore`) that shares it
        self.stale_after = stale_after

    def start(self, job_id: str, *, member: str, event_count: int) -> None:
        now = int(time.time())
        with self.engine.begin() as conn:
            conn.execute(
                insert(capture_jobs).values(
                    id=job_id,
                    member=member,
                    state="running",
                    event_count=event_count,
                    created_at=now,
                    heartbeat_at=now,
                )
            )

    def heartbeat(self, job_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(capture_jobs)
                .where(capture_jobs.c.id == job_id, capture_jobs.c.state == "running")
                .values(heartbeat_at=int(time.time()))
            )

    def finish(self, job_id: str, *, success: bool, report: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(capture_jobs)
                .where(capture_jobs.c.id == job_id)
                .values(
                    state="success" if success else "failed",
                    finished_at=int(time.time()),
                    report=json.dumps(report, ensure_ascii=False),
                )
            )

    def _job(self, row: Any) -> CaptureJob:
        state = str(row.state)
        if state == "running" and time.time() - int(row.heartbeat_at) > self.stale_after:
            state = "interrupted"
        return CaptureJob(
            id=str(row.id),
            member=str(row.member),
            state=state,
            event_count=int(row.event_count),
            created_at=int(row.created_at),
            finished_at=None if row.finished_at is None else int(row.finished_at),
            report=None if row.report is None else json.loads(row.report),
        )

    def get(self, job_id: str, *, member: str | None) -> CaptureJob | None:
        """The job, if `member` owns it (None: any member's, for the regulator)."""
        query = select(capture_jobs).where(capture_jobs.c.id == job_id)
        if member is not None:
            query = query.where(capture_jobs.c.member == member)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else self._job(row)

    def of_member(self, member: str, *, limit: int = MAX_LISTED) -> list[CaptureJob]:
        """The member's newest jobs first."""
        query = (
            select(capture_jobs)
            .where(capture_jobs.c.member == member)
            .order_by(capture_jobs.c.created_at.desc(), capture_jobs.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [self._job(row) for row in conn.execute(query)]
