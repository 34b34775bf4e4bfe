"""Bulk jobs that run in the background while the page shows a progress bar (htmx polls
`/portal/manufacturer/jobs/{id}`): e.g. commissioning thousands of serials in ledger-sized
batches.

A job runs on a thread of the API process that accepted it, and its progress is a row in the
API store, so the poll may reach any worker of `medledger api --workers N` and a page
reloaded after a restart still finds it. A job only its member can see; a job whose process
died stops reporting progress and is shown as interrupted. Finished jobs are forgotten an
hour after they end.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from medledger.domain.services import Services
from medledger.domain.store import api_store
from medledger.indexer.store.jobs import JobRow, add_job, job_row, record_finish, record_progress
from medledger.portal.errors import PortalFailure, failure

__all__ = ["Job", "find_job", "start_job"]

T = TypeVar("T")
KEEP_SECONDS = 3600
# A running job writes a heartbeat after every batch; one silent for this long has lost
# its process (a batch is one ledger transaction, seconds at most).
STALE_SECONDS = 120


@dataclass
class Job:
    id: str
    owner: str
    title: str
    total: int
    done: int = 0
    problem: PortalFailure | None = None
    finished_at: float | None = None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def percent(self) -> int:
        return 100 if not self.total else self.done * 100 // self.total


def _problem_json(problem: PortalFailure) -> str:
    return json.dumps({"code": problem.code, "detail": problem.detail, "fields": problem.fields})


def _job_of(row: JobRow, now: float) -> Job:
    problem = PortalFailure(**json.loads(row.problem)) if row.problem else None
    finished_at = row.finished_at
    if finished_at is None and row.heartbeat_at < now - STALE_SECONDS:
        problem = PortalFailure("job_interrupted", f"no progress since {row.heartbeat_at}")
        finished_at = row.heartbeat_at
    return Job(
        row.id,
        row.owner,
        row.title,
        row.total,
        row.done,
        problem,
        finished_at,
    )


def start_job(
    services: Services,
    *,
    owner: str,
    title: str,
    items: Sequence[T],
    batch_size: int,
    work: Callable[[Sequence[T]], object],
) -> Job:
    """Run `work` on `items` in batches on a background thread, recording progress after
    each batch. The first failure stops the job."""
    engine = api_store(services).engine
    job = Job(secrets.token_urlsafe(12), owner, title, len(items))
    now = int(time.time())
    row = JobRow(job.id, owner, title, job.total, 0, None, now, None)
    add_job(engine, row, forget_finished_before=now - KEEP_SECONDS)

    def run() -> None:
        try:
            for start in range(0, len(items), batch_size):
                batch = items[start : start + batch_size]
                work(batch)
                job.done += len(batch)
                record_progress(engine, job.id, done=job.done, now=int(time.time()))
        except Exception as exc:  # shown on the job's page, in the clerk's language
            try:
                job.problem = failure(exc)
            except Exception:
                job.problem = PortalFailure("job_failed", repr(exc))
        finally:
            job.finished_at = time.time()
            problem = _problem_json(job.problem) if job.problem else None
            record_finish(
                engine,
                job.id,
                problem=problem,
                finished_at=int(job.finished_at),
                now=int(time.time()),
            )

    threading.Thread(target=run, name=f"portal-job-{job.id}", daemon=True).start()
    return job


def find_job(services: Services, job_id: str, *, owner: str) -> Job | None:
    row = job_row(api_store(services).engine, job_id, owner=owner)
    return None if row is None else _job_of(row, time.time())
