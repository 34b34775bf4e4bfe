"""Encrypted commercial documents: AES-GCM under a fresh per-document key, that key wrapped
for each party, ciphertext kept off-chain in the API store, a salted hash on-chain.

Key wrapping: the platform holds one key-encryption key (KEK) per party, derived from the
master key by HKDF (`document-kek/<party>`), where a party is a member address (the
uploader, the named counterparty) or the group `regulator` (any active regulator). The
per-document key is AES-GCM-encrypted under each party's KEK with the document id and the
party as associated data. A member reads a document only if a wrapped key exists for its
address (or it is a regulator); anyone else gets 404, so existence does not leak.

The on-chain anchor is keccak256(salt ‖ sha256(plaintext)) with a random 32-byte salt, so
the hash reveals nothing about a guessable document.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak
from sqlalchemy import insert, or_, select, update

from domain.custodial_keys import derive_key, master_key, seal, unseal
from domain.errors import NotFound
from domain.services import Services
from domain.store import api_store, document_keys, documents

__all__ = ["REGULATOR_PARTY", "StoredDocument", "list_for", "read", "store", "set_anchor"]

REGULATOR_PARTY = "regulator"


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


def _kek(services: Services, party: str) -> bytes:
    return derive_key(master_key(services.settings), f"document-kek/{party.lower()}")


def store(
    services: Services,
    *,
    uploader: str,
    counterparty: str | None,
    subject_id: bytes,
    kind: int,
    filename: str,
    content_type: str,
    content: bytes,
) -> StoredDocument:
    """Encrypt and store `content`, wrapping its key for uploader, counterparty and
    regulator; the caller anchors `document_hash` on chain."""
    doc_id = secrets.token_hex(16)
    dek = os.urandom(32)
    salt = os.urandom(32)
    document_hash = keccak(salt + hashlib.sha256(content).digest())
    nonce, ciphertext = seal(dek, content, aad=doc_id.encode())
    parties = {uploader.lower(), REGULATOR_PARTY}
    if counterparty is not None:
        parties.add(counterparty.lower())
    now = int(time.time())
    with api_store(services).engine.begin() as conn:
        conn.execute(
            insert(documents).values(
                id=doc_id,
                uploader=uploader,
                counterparty=counterparty,
                subject_id=subject_id,
                kind=kind,
                filename=filename,
                content_type=content_type,
                salt=salt,
                document_hash=document_hash,
                nonce=nonce,
                ciphertext=ciphertext,
                anchored_tx=None,
                created_at=now,
            )
        )
        for party in sorted(parties):
            wrap_nonce, wrapped = seal(_kek(services, party), dek, aad=f"{doc_id}/{party}".encode())
            conn.execute(
                insert(document_keys).values(
                    document_id=doc_id, party=party, nonce=wrap_nonce, wrapped_key=wrapped
                )
            )
    return StoredDocument(
        doc_id,
        uploader,
        counterparty,
        subject_id,
        kind,
        filename,
        content_type,
        document_hash,
        None,
        now,
    )


def set_anchor(services: Services, doc_id: str, tx_hash: str) -> None:
    with api_store(services).engine.begin() as conn:
        conn.execute(update(documents).where(documents.c.id == doc_id).values(anchored_tx=tx_hash))


def _parties(address: str, *, regulator: bool) -> list[str]:
    return [address.lower(), REGULATOR_PARTY] if regulator else [address.lower()]


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
        str(row[0]),
        str(row[1]),
        None if row[2] is None else str(row[2]),
        bytes(row[3]),
        int(row[4]),
        str(row[5]),
        str(row[6]),
        bytes(row[7]),
        None if row[8] is None else str(row[8]),
        int(row[9]),
    )


def read(
    services: Services, doc_id: str, *, address: str, regulator: bool
) -> tuple[StoredDocument, bytes]:
    """The document and its plaintext, for a party only (404 for anyone else)."""
    with api_store(services).engine.connect() as conn:
        key_row = conn.execute(
            select(document_keys.c.party, document_keys.c.nonce, document_keys.c.wrapped_key)
            .where(
                document_keys.c.document_id == doc_id,
                or_(*(document_keys.c.party == p for p in _parties(address, regulator=regulator))),
            )
            .limit(1)
        ).first()
        row = conn.execute(
            select(*_COLUMNS, documents.c.nonce, documents.c.ciphertext).where(
                documents.c.id == doc_id
            )
        ).first()
    if key_row is None or row is None:
        raise NotFound("document_not_found", f"no document {doc_id!r} shared with you")
    party = str(key_row[0])
    dek = unseal(
        _kek(services, party),
        bytes(key_row[1]),
        bytes(key_row[2]),
        aad=f"{doc_id}/{party}".encode(),
    )
    plaintext = unseal(dek, bytes(row[10]), bytes(row[11]), aad=doc_id.encode())
    return _stored(tuple(row[:10])), plaintext


def list_for(
    services: Services, *, address: str, regulator: bool, limit: int, offset: int
) -> list[StoredDocument]:
    parties = _parties(address, regulator=regulator)
    with api_store(services).engine.connect() as conn:
        shared = select(document_keys.c.document_id).where(
            or_(*(document_keys.c.party == p for p in parties))
        )
        rows = conn.execute(
            select(*_COLUMNS)
            .where(documents.c.id.in_(shared))
            .order_by(documents.c.created_at.desc(), documents.c.id)
            .limit(limit)
            .offset(offset)
        ).all()
    return [_stored(tuple(r)) for r in rows]
