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

from eth_utils import keccak

from medledger.domain.custodial_keys import seal, unseal
from medledger.domain.envelopes import REGULATOR_PARTY, parties_of, unwrap, wrap_for
from medledger.domain.errors import NotFound
from medledger.domain.services import Services
from medledger.domain.store import api_store
from medledger.indexer.store import documents as stored
from medledger.indexer.store.documents import SealedDocument, StoredDocument

__all__ = ["REGULATOR_PARTY", "StoredDocument", "list_for", "read", "store", "set_anchor"]


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
    document = StoredDocument(
        doc_id,
        uploader,
        counterparty,
        subject_id,
        kind,
        filename,
        content_type,
        document_hash,
        None,
        int(time.time()),
    )
    keys = wrap_for(services, doc_id, dek, parties)
    sealed = SealedDocument(document, salt, nonce, ciphertext)
    stored.add_document(api_store(services).engine, sealed, keys)
    return document


def set_anchor(services: Services, doc_id: str, tx_hash: str) -> None:
    stored.set_anchor(api_store(services).engine, doc_id, tx_hash)


def read(
    services: Services, doc_id: str, *, address: str, regulator: bool
) -> tuple[StoredDocument, bytes]:
    """The document and its plaintext, for a party only (404 for anyone else)."""
    parties = parties_of(address, regulator=regulator)
    found = stored.shared_document(api_store(services).engine, doc_id, parties)
    if found is None:
        raise NotFound("document_not_found", f"no document {doc_id!r} shared with you")
    sealed, key = found
    dek = unwrap(services, doc_id, key)
    plaintext = unseal(dek, sealed.nonce, sealed.ciphertext, aad=doc_id.encode())
    return sealed.document, plaintext


def list_for(
    services: Services, *, address: str, regulator: bool, limit: int, offset: int
) -> list[StoredDocument]:
    parties = parties_of(address, regulator=regulator)
    return stored.documents_shared_with(
        api_store(services).engine, parties, limit=limit, offset=offset
    )
