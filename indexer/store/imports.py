"""Bulk import jobs (`api_import_jobs`, `api_import_errors`, `api_import_chunks`): the job
of one uploaded file, the problems of its rows, and the chunks its write is cut into, each
`pending` → `sending` (recorded before the ledger is asked) → `confirmed` (with its tx).
Every read is by owner: a job belongs to the member that uploaded it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, and_, func, insert, or_, select, update

from medledger.indexer.store.tables import import_chunks, import_errors, import_jobs

__all__ = [
    "ChunkRow",
    "ErrorRow",
    "ImportJobRow",
    "add_import_job",
    "claim_import_job",
    "confirm_chunk",
    "finish_import_job",
    "import_errors_of",
    "import_job",
    "import_jobs_of",
    "open_chunks",
    "send_chunk",
]


@dataclass(frozen=True, slots=True)
class ImportJobRow:
    id: str
    owner: str
    kind: str
    filename: str
    state: str
    total_rows: int
    done_rows: int
    error_count: int
    problem: str | None
    created_at: int
    heartbeat_at: int
    finished_at: int | None


@dataclass(frozen=True, slots=True)
class ErrorRow:
    row: int
    column: str
    code: str
    value: str
    message_zh: str
    message_en: str
    cells: str  # JSON


@dataclass(frozen=True, slots=True)
class ChunkRow:
    seq: int
    rows: int
    payload: str  # JSON
    state: str
    before: str | None
    tx_hash: str | None


def add_import_job(
    engine: Engine, job: ImportJobRow, errors: Sequence[ErrorRow], chunks: Sequence[ChunkRow]
) -> None:
    with engine.begin() as conn:
        conn.execute(insert(import_jobs).values(**_job_values(job)))
        if errors:
            conn.execute(
                insert(import_errors),
                [{"job_id": job.id, "seq": n, **_fields(e)} for n, e in enumerate(errors)],
            )
        if chunks:
            conn.execute(insert(import_chunks), [{"job_id": job.id, **_fields(c)} for c in chunks])


def _fields(row: ErrorRow | ChunkRow) -> dict[str, object]:
    return {name: getattr(row, name) for name in row.__slots__}


def _job_values(job: ImportJobRow) -> dict[str, object]:
    return {name: getattr(job, name) for name in job.__slots__}


def import_job(engine: Engine, job_id: str, *, owner: str) -> ImportJobRow | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(import_jobs).where(import_jobs.c.id == job_id, import_jobs.c.owner == owner)
        ).first()
    return None if row is None else ImportJobRow(**row._asdict())


def import_jobs_of(engine: Engine, owner: str, *, limit: int) -> list[ImportJobRow]:
    """The owner's newest jobs first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(import_jobs)
            .where(import_jobs.c.owner == owner)
            .order_by(import_jobs.c.created_at.desc(), import_jobs.c.id)
            .limit(limit)
        ).all()
    return [ImportJobRow(**r._asdict()) for r in rows]


def import_errors_of(
    engine: Engine, job_id: str, *, limit: int | None = None, offset: int = 0
) -> list[ErrorRow]:
    query = (
        select(import_errors)
        .where(import_errors.c.job_id == job_id)
        .order_by(import_errors.c.seq)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        ErrorRow(r.row, r.column, r.code, r.value, r.message_zh, r.message_en, r.cells)
        for r in rows
    ]


def claim_import_job(engine: Engine, job_id: str, *, now: int, stale_before: int) -> bool:
    """Mark the job running for this process if it is ready, failed, or running but
    silent since `stale_before` (its process died); False if another runner holds it."""
    c = import_jobs.c
    with engine.begin() as conn:
        result = conn.execute(
            update(import_jobs)
            .where(
                c.id == job_id,
                or_(
                    c.state.in_(("ready", "failed")),
                    and_(c.state == "running", c.heartbeat_at < stale_before),
                ),
            )
            .values(state="running", heartbeat_at=now, problem=None, finished_at=None)
        )
        return result.rowcount == 1


def open_chunks(engine: Engine, job_id: str) -> list[ChunkRow]:
    """The chunks not yet confirmed, in order."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(import_chunks)
            .where(import_chunks.c.job_id == job_id, import_chunks.c.state != "confirmed")
            .order_by(import_chunks.c.seq)
        ).all()
    return [ChunkRow(r.seq, r.rows, r.payload, r.state, r.before, r.tx_hash) for r in rows]


def send_chunk(engine: Engine, job_id: str, seq: int, *, before: str | None, now: int) -> None:
    """Record that chunk `seq` is about to be sent, with the ledger fact read before."""
    with engine.begin() as conn:
        conn.execute(
            update(import_chunks)
            .where(import_chunks.c.job_id == job_id, import_chunks.c.seq == seq)
            .values(state="sending", before=before)
        )
        conn.execute(update(import_jobs).where(import_jobs.c.id == job_id).values(heartbeat_at=now))


def confirm_chunk(engine: Engine, job_id: str, seq: int, *, tx_hash: str | None, now: int) -> int:
    """Record chunk `seq` as on the ledger; the job's rows done, counted from its chunks."""
    with engine.begin() as conn:
        conn.execute(
            update(import_chunks)
            .where(import_chunks.c.job_id == job_id, import_chunks.c.seq == seq)
            .values(state="confirmed", tx_hash=tx_hash)
        )
        done = conn.execute(
            select(func.coalesce(func.sum(import_chunks.c.rows), 0)).where(
                import_chunks.c.job_id == job_id, import_chunks.c.state == "confirmed"
            )
        ).scalar_one()
        conn.execute(
            update(import_jobs)
            .where(import_jobs.c.id == job_id)
            .values(done_rows=int(done), heartbeat_at=now)
        )
    return int(done)


def finish_import_job(
    engine: Engine, job_id: str, *, state: str, problem: str | None, now: int
) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(import_jobs)
            .where(import_jobs.c.id == job_id)
            .values(state=state, problem=problem, heartbeat_at=now, finished_at=now)
        )
