"""Product master records (`api_master_records`): the public JSON of each anchored
master-data version, keyed by the keccak256 the chain holds. A record is written once
and never changed; history is the list of versions the read model projects."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, insert, select

from medledger.indexer.store.tables import master_records

__all__ = ["put_master_record", "master_records_by_hash"]


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
