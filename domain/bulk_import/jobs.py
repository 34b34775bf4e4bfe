"""Import jobs: an uploaded file is read and EVERY row checked before anything is written
(`create_job`); a file with any bad row becomes an `invalid` job holding its per-row
problems, a clean one a `ready` job holding its write cut into chunks. `run_job` writes
the chunks in order, recording each as `sending` before the ledger is asked and
`confirmed` after; run again after an interruption (`resume_job`) it starts at the first
unconfirmed chunk and, for one left `sending`, asks the ledger whether it landed before
sending anything (`Kind.send(resumed=True)`), so nothing is written twice.

A job is its uploader's: every read answers 404 `import_not_found` to another member.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from medledger.domain.auth import Member
from medledger.domain.bulk_import.commissioning import Commissioning
from medledger.domain.bulk_import.files import read_table
from medledger.domain.bulk_import.lots import Lots
from medledger.domain.bulk_import.plan import Kind
from medledger.domain.bulk_import.products import Products
from medledger.domain.bulk_import.receipts import Receipts
from medledger.domain.bulk_import.shipments import Shipments
from medledger.domain.errors import ApiError, Conflict, NotFound, Unprocessable
from medledger.domain.services import Services
from medledger.domain.store import api_store
from medledger.indexer.store.imports import (
    ChunkRow,
    ErrorRow,
    ImportJobRow,
    add_import_job,
    claim_import_job,
    confirm_chunk,
    finish_import_job,
    import_errors_of,
    import_job,
    import_jobs_of,
    open_chunks,
    send_chunk,
)
from medledger.sdk.errors import ContractError

__all__ = [
    "KINDS",
    "STALE_SECONDS",
    "ImportJob",
    "create_job",
    "job_errors",
    "jobs_of",
    "resume_job",
    "run_job",
    "start_job",
    "view_job",
]

KINDS: dict[str, Kind] = {
    k.name: k for k in (Commissioning(), Lots(), Products(), Shipments(), Receipts())
}
# A running job beats after every chunk (one transaction, seconds); silent this long, its
# process is gone and the job may be resumed.
STALE_SECONDS = 120
AfterSend = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class ImportJob:
    id: str
    kind: str
    filename: str
    state: str  # invalid, ready, running, interrupted, done, failed
    total_rows: int
    done_rows: int
    error_count: int
    problem: dict[str, str] | None
    created_at: int
    finished_at: int | None

    @property
    def percent(self) -> int:
        return 100 if not self.total_rows else self.done_rows * 100 // self.total_rows

    @property
    def resumable(self) -> bool:
        return self.state in ("failed", "interrupted", "ready")


def _view(row: ImportJobRow, now: int) -> ImportJob:
    state = row.state
    if state == "running" and row.heartbeat_at < now - STALE_SECONDS:
        state = "interrupted"
    return ImportJob(
        row.id,
        row.kind,
        row.filename,
        state,
        row.total_rows,
        row.done_rows,
        row.error_count,
        json.loads(row.problem) if row.problem else None,
        row.created_at,
        row.finished_at,
    )


def _row(services: Services, member: Member, job_id: str) -> ImportJobRow:
    row = import_job(api_store(services).engine, job_id[:64], owner=member.address)
    if row is None:
        raise NotFound("import_not_found", f"no import job {job_id[:64]!r} of yours")
    return row


def create_job(
    services: Services, *, member: Member, kind: str, filename: str, data: bytes
) -> ImportJob:
    """Read and check the whole file; record the job (`invalid` or `ready`)."""
    handler = KINDS.get(kind)
    if handler is None:
        raise Unprocessable(
            "import_unknown_kind", f"kind {kind[:40]!r} is not one of {sorted(KINDS)}"
        )
    rows = read_table(filename, data, columns=handler.columns)
    if not rows:
        raise Unprocessable("import_empty_file", "the file holds no data rows")
    with services.engine.connect() as conn:
        plan = handler.plan(services, conn, member=member, rows=rows)
    cells = {r.number: r.cells for r in rows}
    errors = [
        ErrorRow(
            p.row,
            p.column,
            p.code,
            p.value[:200],
            p.message_zh,
            p.message_en,
            json.dumps(cells.get(p.row, {}), ensure_ascii=False),
        )
        for p in plan.problems
    ]
    chunks = [
        ChunkRow(seq, c.rows, json.dumps(c.payload), "pending", None, None)
        for seq, c in enumerate(plan.chunks)
    ]
    now = int(time.time())
    row = ImportJobRow(
        secrets.token_urlsafe(12),
        member.address,
        kind,
        filename[:200],
        "invalid" if errors else "ready",
        len(rows),
        0,
        len(errors),
        None,
        now,
        now,
        now if errors else None,
    )
    add_import_job(api_store(services).engine, row, errors, chunks)
    return _view(row, now)


def run_job(
    services: Services, *, member: Member, job_id: str, after_send: AfterSend | None = None
) -> ImportJob:
    """Write the job's open chunks here and now; `after_send(seq)` runs between a chunk's
    write and its record (where a crash leaves it `sending`)."""
    engine = api_store(services).engine
    row = _row(services, member, job_id)
    now = int(time.time())
    if not claim_import_job(engine, row.id, now=now, stale_before=now - STALE_SECONDS):
        return _view(row, now)
    handler = KINDS[row.kind]
    try:
        for chunk in open_chunks(engine, row.id):
            payload = json.loads(chunk.payload)
            resumed = chunk.state == "sending"
            if resumed:
                before = json.loads(chunk.before or "{}")
            else:
                before = handler.before(services, member=member, payload=payload)
                send_chunk(engine, row.id, chunk.seq, before=json.dumps(before), now=now_())
            tx = handler.send(
                services, member=member, payload=payload, before=before, resumed=resumed
            )
            if after_send is not None:
                after_send(chunk.seq)
            confirm_chunk(engine, row.id, chunk.seq, tx_hash=tx, now=now_())
    except Exception as exc:  # recorded on the job; a resume picks it up from here
        finish_import_job(
            engine, row.id, state="failed", problem=json.dumps(_problem(exc)), now=now_()
        )
    else:
        finish_import_job(engine, row.id, state="done", problem=None, now=now_())
    return view_job(services, member=member, job_id=row.id)


def now_() -> int:
    return int(time.time())


def _problem(exc: Exception) -> dict[str, str]:
    if isinstance(exc, ApiError):
        return {"code": exc.code, "detail": str(exc.detail)[:500]}
    if isinstance(exc, ContractError):
        return {"code": exc.name, "detail": str(exc)[:500]}
    return {"code": "import_failed", "detail": repr(exc)[:500]}


def start_job(services: Services, *, member: Member, job_id: str) -> None:
    """Run the job on a background thread of this process."""
    thread = threading.Thread(
        target=run_job,
        kwargs={"services": services, "member": member, "job_id": job_id},
        name=f"import-{job_id}",
        daemon=True,
    )
    thread.start()


def resume_job(services: Services, *, member: Member, job_id: str) -> ImportJob:
    """Start an interrupted or failed job again from its first unconfirmed chunk."""
    job = view_job(services, member=member, job_id=job_id)
    if not job.resumable:
        raise Conflict("import_not_resumable", f"the job is {job.state}; nothing to resume")
    start_job(services, member=member, job_id=job.id)
    return job


def view_job(services: Services, *, member: Member, job_id: str) -> ImportJob:
    return _view(_row(services, member, job_id), now_())


def jobs_of(services: Services, *, member: Member, limit: int = 50) -> list[ImportJob]:
    now = now_()
    engine = api_store(services).engine
    return [_view(r, now) for r in import_jobs_of(engine, member.address, limit=limit)]


def job_errors(
    services: Services, *, member: Member, job_id: str, limit: int | None, offset: int = 0
) -> list[ErrorRow]:
    row = _row(services, member, job_id)
    return import_errors_of(api_store(services).engine, row.id, limit=limit, offset=offset)
