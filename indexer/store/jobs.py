"""Progress of the portal's background jobs (`portal_jobs`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select, update

from medledger.indexer.store.tables import jobs

__all__ = ["JobRow", "add_job", "job_row", "record_finish", "record_progress"]


@dataclass(frozen=True, slots=True)
class JobRow:
    id: str
    owner: str
    title: str
    total: int
    done: int
    problem: str | None  # JSON of the portal's failure
    heartbeat_at: int
    finished_at: int | None


def add_job(engine: Engine, job: JobRow, *, forget_finished_before: int) -> None:
    """Insert `job`, deleting jobs finished before `forget_finished_before`."""
    with engine.begin() as conn:
        conn.execute(delete(jobs).where(jobs.c.finished_at < forget_finished_before))
        conn.execute(
            insert(jobs).values(
                id=job.id,
                owner=job.owner,
                title=job.title,
                total=job.total,
                done=job.done,
                heartbeat_at=job.heartbeat_at,
            )
        )


def record_progress(engine: Engine, job_id: str, *, done: int, now: int) -> None:
    with engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(heartbeat_at=now, done=done))


def record_finish(
    engine: Engine, job_id: str, *, problem: str | None, finished_at: int, now: int
) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(heartbeat_at=now, problem=problem, finished_at=finished_at)
        )


def job_row(engine: Engine, job_id: str, *, owner: str) -> JobRow | None:
    with engine.connect() as conn:
        row = conn.execute(select(jobs).where(jobs.c.id == job_id, jobs.c.owner == owner)).first()
    if row is None:
        return None
    return JobRow(
        str(row.id),
        str(row.owner),
        str(row.title),
        int(row.total),
        int(row.done),
        None if row.problem is None else str(row.problem),
        int(row.heartbeat_at),
        None if row.finished_at is None else int(row.finished_at),
    )
