"""Encrypted documents (`api_documents`) and their per-party wrapped keys
(`api_document_keys`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, or_, select, update

from medledger.indexer.store.tables import document_keys, documents

__all__ = [
    "SealedDocument",
    "StoredDocument",
    "WrappedKey",
    "add_document",
    "documents_shared_with",
    "set_anchor",
    "shared_document",
]


@dataclass(frozen=True, slots=True)
class StoredDocument:
    id: str
    uploader: str
    counterparty: str | None
    subject_id: bytes
    kind: int
    filename: str
    content_type: str
    document_hash: bytes
    anchored_tx: str | None
    created_at: int


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """The document key, encrypted for one party (a member address or a group)."""

    party: str
    nonce: bytes
    wrapped_key: bytes


@dataclass(frozen=True, slots=True)
class SealedDocument:
    document: StoredDocument
    salt: bytes
    nonce: bytes
    ciphertext: bytes


def add_document(engine: Engine, sealed: SealedDocument, keys: Sequence[WrappedKey]) -> None:
    """Store a document and its wrapped keys, in one transaction."""
    d = sealed.document
    with engine.begin() as conn:
        conn.execute(
            insert(documents).values(
                id=d.id,
                uploader=d.uploader,
                counterparty=d.counterparty,
                subject_id=d.subject_id,
                kind=d.kind,
                filename=d.filename,
                content_type=d.content_type,
                salt=sealed.salt,
                document_hash=d.document_hash,
                nonce=sealed.nonce,
                ciphertext=sealed.ciphertext,
                anchored_tx=d.anchored_tx,
                created_at=d.created_at,
            )
        )
        for key in keys:
            conn.execute(
                insert(document_keys).values(
                    document_id=d.id, party=key.party, nonce=key.nonce, wrapped_key=key.wrapped_key
                )
            )


def set_anchor(engine: Engine, doc_id: str, tx_hash: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(documents).where(documents.c.id == doc_id).values(anchored_tx=tx_hash))


_COLUMNS = (
    documents.c.id,
    documents.c.uploader,
    documents.c.counterparty,
    documents.c.subject_id,
    documents.c.kind,
    documents.c.filename,
    documents.c.content_type,
    documents.c.document_hash,
    documents.c.anchored_tx,
    documents.c.created_at,
)


def _stored(row: Any) -> StoredDocument:
    return StoredDocument(
        id=str(row.id),
        uploader=str(row.uploader),
        counterparty=None if row.counterparty is None else str(row.counterparty),
        subject_id=bytes(row.subject_id),
        kind=int(row.kind),
        filename=str(row.filename),
        content_type=str(row.content_type),
        document_hash=bytes(row.document_hash),
        anchored_tx=None if row.anchored_tx is None else str(row.anchored_tx),
        created_at=int(row.created_at),
    )


def _party_of(parties: Sequence[str]) -> Any:
    return or_(*(document_keys.c.party == p for p in parties))


def shared_document(
    engine: Engine, doc_id: str, parties: Sequence[str]
) -> tuple[SealedDocument, WrappedKey] | None:
    """Document `doc_id` and its key wrapped for one of `parties`; None unless shared
    with one of them."""
    with engine.connect() as conn:
        key_row = conn.execute(
            select(document_keys.c.party, document_keys.c.nonce, document_keys.c.wrapped_key)
            .where(document_keys.c.document_id == doc_id, _party_of(parties))
            .limit(1)
        ).first()
        row = conn.execute(
            select(*_COLUMNS, documents.c.salt, documents.c.nonce, documents.c.ciphertext).where(
                documents.c.id == doc_id
            )
        ).first()
    if key_row is None or row is None:
        return None
    sealed = SealedDocument(_stored(row), bytes(row.salt), bytes(row.nonce), bytes(row.ciphertext))
    key = WrappedKey(str(key_row.party), bytes(key_row.nonce), bytes(key_row.wrapped_key))
    return sealed, key


def documents_shared_with(
    engine: Engine, parties: Sequence[str], *, limit: int, offset: int
) -> list[StoredDocument]:
    """Documents shared with any of `parties`, newest first."""
    with engine.connect() as conn:
        shared = select(document_keys.c.document_id).where(_party_of(parties))
        rows = conn.execute(
            select(*_COLUMNS)
            .where(documents.c.id.in_(shared))
            .order_by(documents.c.created_at.desc(), documents.c.id)
            .limit(limit)
            .offset(offset)
        ).all()
    return [_stored(r) for r in rows]
