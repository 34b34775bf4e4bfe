"""Bulk jobs that run in the background while the page shows a progress bar (htmx polls
`/portal/jobs/{id}`): e.g. commissioning thousands of serials in ledger-sized batches.

Jobs live in the API process's memory (`services.extras`), visible only to the member
that started them, and are forgotten an hour after they finish.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from api.services import Services
from portal.errors import PortalFailure, failure

__all__ = ["Job", "find_job", "start_job"]

T = TypeVar("T")
KEEP_SECONDS = 3600


@dataclass
class Job:
    id: str
    owner: str
    title: str
    total: int
    done: int = 0
    problem: PortalFailure | None = None
    finished_at: float | None = None
    results: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def percent(self) -> int:
        return 100 if not self.total else self.done * 100 // self.total


def _jobs(services: Services) -> dict[str, Job]:
    jobs: dict[str, Job] = services.extras.setdefault("portal_jobs", {})
    now = time.time()
    for key in [k for k, j in jobs.items() if j.finished_at and j.finished_at < now - KEEP_SECONDS]:
        jobs.pop(key, None)
    return jobs


def start_job(
    services: Services,
    *,
    owner: str,
    title: str,
    items: Sequence[T],
    batch_size: int,
    work: Callable[[Sequence[T]], list[str]],
) -> Job:
    """Run `work` on `items` in batches on a background thread; each batch's returned
    strings are collected in `job.results`. The first failure stops the job."""
    job = Job(secrets.token_urlsafe(12), owner, title, len(items))
    _jobs(services)[job.id] = job

    def run() -> None:
        try:
            for start in range(0, len(items), batch_size):
                batch = items[start : start + batch_size]
                job.results.extend(work(batch))
                job.done += len(batch)
        except Exception as exc:  # shown on the job's page, in the clerk's language
            try:
                job.problem = failure(exc)
            except Exception:
                job.problem = PortalFailure("job_failed", repr(exc))
        finally:
            job.finished_at = time.time()

    threading.Thread(target=run, name=f"portal-job-{job.id}", daemon=True).start()
    return job


def find_job(services: Services, job_id: str, *, owner: str) -> Job | None:
    job = _jobs(services).get(job_id)
    return job if job is not None and job.owner == owner else None
