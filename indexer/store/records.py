"""Sealed records (`api_records`) and their per-party wrapped keys (`api_record_keys`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError

from medledger.indexer.store.documents import WrappedKey
from medledger.indexer.store.tables import record_keys, records

__all__ = [
    "SealedRow",
    "StoredRecord",
    "add_keys",
    "add_record",
    "add_record_if_absent",
    "any_key",
    "held",
    "record_by_commitment",
    "records_after",
    "records_shared_with",
    "set_anchor",
    "shared_record",
]


@dataclass(frozen=True, slots=True)
class StoredRecord:
    id: str
    kind: str
    author: str
    subject_id: bytes
    commitment: bytes
    anchored_tx: str | None
    created_at: int


@dataclass(frozen=True, slots=True)
class SealedRow:
    record: StoredRecord
    salt: bytes
    nonce: bytes
    ciphertext: bytes


_COLUMNS = (
    records.c.id,
    records.c.kind,
    records.c.author,
    records.c.subject_id,
    records.c.commitment,
    records.c.anchored_tx,
    records.c.created_at,
)
_SEALED = (*_COLUMNS, records.c.salt, records.c.nonce, records.c.ciphertext)


def _stored(row: Any) -> StoredRecord:
    return StoredRecord(
        id=str(row.id),
        kind=str(row.kind),
        author=str(row.author),
        subject_id=bytes(row.subject_id),
        commitment=bytes(row.commitment),
        anchored_tx=None if row.anchored_tx is None else str(row.anchored_tx),
        created_at=int(row.created_at),
    )


def _sealed(row: Any) -> SealedRow:
    return SealedRow(_stored(row), bytes(row.salt), bytes(row.nonce), bytes(row.ciphertext))


def _key(row: Any) -> WrappedKey:
    return WrappedKey(str(row.party), bytes(row.nonce), bytes(row.wrapped_key))


def add_record(engine: Engine, sealed: SealedRow, keys: Sequence[WrappedKey]) -> None:
    """Store a record and its wrapped keys, in one transaction."""
    r = sealed.record
    with engine.begin() as conn:
        conn.execute(
            insert(records).values(
                id=r.id,
                kind=r.kind,
                author=r.author,
                subject_id=r.subject_id,
                salt=sealed.salt,
                commitment=r.commitment,
                nonce=sealed.nonce,
                ciphertext=sealed.ciphertext,
                anchored_tx=r.anchored_tx,
                created_at=r.created_at,
            )
        )
        _insert_keys(conn, r.id, keys)


def _insert_keys(conn: Any, record_id: str, keys: Sequence[WrappedKey]) -> None:
    for key in keys:
        conn.execute(
            insert(record_keys).values(
                record_id=record_id, party=key.party, nonce=key.nonce, wrapped_key=key.wrapped_key
            )
        )


def add_keys(engine: Engine, record_id: str, keys: Sequence[WrappedKey]) -> None:
    """Wrapped keys for parties the record is not yet shared with (others are skipped)."""
    with engine.begin() as conn:
        have = set(
            conn.execute(
                select(record_keys.c.party).where(record_keys.c.record_id == record_id)
            ).scalars()
        )
        _insert_keys(conn, record_id, [k for k in keys if k.party not in have])


def set_anchor(engine: Engine, record_id: str, tx_hash: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(records).where(records.c.id == record_id).values(anchored_tx=tx_hash))


def _party_of(parties: Sequence[str]) -> Any:
    return or_(*(record_keys.c.party == p for p in parties))


def shared_record(
    engine: Engine, record_id: str, parties: Sequence[str]
) -> tuple[SealedRow, WrappedKey] | None:
    """Record `record_id` and its key wrapped for one of `parties`; None unless shared
    with one of them."""
    return _with_key(engine, record_id, _party_of(parties))


def any_key(engine: Engine, record_id: str) -> tuple[SealedRow, WrappedKey] | None:
    """Record `record_id` and any one of its wrapped keys (for the platform's own use:
    sharing the record with more parties, or opening it for the regulator)."""
    return _with_key(engine, record_id, true())


def _with_key(
    engine: Engine, record_id: str, party_filter: Any
) -> tuple[SealedRow, WrappedKey] | None:
    with engine.connect() as conn:
        key_row = conn.execute(
            select(record_keys.c.party, record_keys.c.nonce, record_keys.c.wrapped_key)
            .where(record_keys.c.record_id == record_id, party_filter)
            .limit(1)
        ).first()
        row = conn.execute(select(*_SEALED).where(records.c.id == record_id)).first()
    if key_row is None or row is None:
        return None
    return _sealed(row), _key(key_row)


def record_by_commitment(engine: Engine, commitment: bytes) -> str | None:
    """The id of the record whose commitment is `commitment`, if stored here."""
    with engine.connect() as conn:
        found = conn.execute(select(records.c.id).where(records.c.commitment == commitment)).first()
    return None if found is None else str(found.id)


def records_shared_with(
    engine: Engine,
    parties: Sequence[str],
    *,
    kind: str | None,
    subject_id: bytes | None,
    limit: int,
    offset: int,
) -> list[StoredRecord]:
    """Records shared with any of `parties`, newest first, optionally of one kind or about
    one subject."""
    shared = select(record_keys.c.record_id).where(_party_of(parties))
    query = select(*_COLUMNS).where(records.c.id.in_(shared))
    if kind is not None:
        query = query.where(records.c.kind == kind)
    if subject_id is not None:
        query = query.where(records.c.subject_id == subject_id)
    with engine.connect() as conn:
        rows = conn.execute(
            query.order_by(records.c.created_at.desc(), records.c.id).limit(limit).offset(offset)
        ).all()
    return [_stored(r) for r in rows]


# ------------------------------------------------------------------ the regulator's feed


def records_after(
    engine: Engine, after: tuple[int, str], *, limit: int, author: str | None = None
) -> list[tuple[SealedRow, list[str]]]:
    """Records after `after` = (created_at, id) in (created_at, id) order, each with the
    parties its key is wrapped for; with `author`, only that author's."""
    at, record_id = after
    query = select(*_SEALED).where(
        or_(
            records.c.created_at > at,
            (records.c.created_at == at) & (records.c.id > record_id),
        )
    )
    if author is not None:
        query = query.where(records.c.author == author)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(records.c.created_at, records.c.id).limit(limit)).all()
        ids = [str(r.id) for r in rows]
        parties: dict[str, list[str]] = {i: [] for i in ids}
        if ids:
            for key in conn.execute(
                select(record_keys.c.record_id, record_keys.c.party)
                .where(record_keys.c.record_id.in_(ids))
                .order_by(record_keys.c.party)
            ):
                parties[str(key.record_id)].append(str(key.party))
    return [(_sealed(r), parties[str(r.id)]) for r in rows]


def held(engine: Engine, record_id: str) -> tuple[bytes, str | None, set[str]] | None:
    """(commitment, anchored_tx, parties) of record `record_id` if this store holds it."""
    with engine.connect() as conn:
        found = conn.execute(
            select(records.c.commitment, records.c.anchored_tx).where(records.c.id == record_id)
        ).first()
        if found is None:
            return None
        parties = conn.execute(
            select(record_keys.c.party).where(record_keys.c.record_id == record_id)
        ).scalars()
        return bytes(found.commitment), found.anchored_tx, {str(p) for p in parties}


def add_record_if_absent(engine: Engine, sealed: SealedRow, keys: Sequence[WrappedKey]) -> bool:
    """`add_record`, or False (nothing written) when a record with its id or commitment is
    stored already (another writer got there first)."""
    try:
        add_record(engine, sealed, keys)
    except IntegrityError:
        return False
    return True
