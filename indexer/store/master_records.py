"""Product master records (`api_master_records`): the public JSON of each anchored
master-data version, keyed by the keccak256 the chain holds. A record is written once
and never changed; history is the list of versions the read model projects. Also the
per-row reports of import jobs (`portal_job_reports`), readable only by their owner."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, insert, select

from medledger.indexer.store.tables import job_reports, master_records

__all__ = ["job_report", "master_records_by_hash", "put_job_report", "put_master_record"]


def put_master_record(
    engine: Engine, *, master_hash: bytes, gtin: str, record: str, now: int
) -> None:
    """Store `record` under `master_hash` unless it is already there."""
    with engine.begin() as conn:
        found = conn.execute(
            select(master_records.c.master_hash).where(master_records.c.master_hash == master_hash)
        ).first()
        if found is None:
            conn.execute(
                insert(master_records).values(
                    master_hash=master_hash, gtin=gtin, record=record, stored_at=now
                )
            )


def master_records_by_hash(engine: Engine, hashes: Iterable[bytes]) -> dict[bytes, str]:
    """The stored records among `hashes`, by hash."""
    wanted = list(dict.fromkeys(hashes))
    if not wanted:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(
            select(master_records.c.master_hash, master_records.c.record).where(
                master_records.c.master_hash.in_(wanted)
            )
        ).all()
    return {bytes(r.master_hash): str(r.record) for r in rows}


def put_job_report(engine: Engine, job_id: str, *, owner: str, report: str) -> None:
    with engine.begin() as conn:
        conn.execute(insert(job_reports).values(job_id=job_id, owner=owner, report=report))


def job_report(engine: Engine, job_id: str, *, owner: str) -> str | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(job_reports.c.report).where(
                job_reports.c.job_id == job_id, job_reports.c.owner == owner
            )
        ).first()
    return None if row is None else str(row.report)
