"""Sealed records: the structured GSP records (acceptance, recall notices, adverse events,
returns, service, ...) that the chain must not carry in clear.

A record's body is canonical JSON (sorted keys, no spaces, UTF-8), encrypted with AES-GCM
under a fresh data key that is wrapped for exactly its parties (`domain.envelopes`): the
author, the readers the use case names, and the regulator group. The chain carries only the
record's commitment, keccak256(salt ‖ sha256(canonical body)) with a random 32-byte salt,
as the hash argument of the contract call the record explains (a receipt's inspection hash,
a recall's reason hash, ...) or anchored on its own with `Records.anchorDocument` (`anchor`).
Nothing guessable is on chain: without the salt a guess cannot be confirmed. The regulator
opens a record (`opening`) and checks it against the value found on chain (`matches`).

Readers who are not parties get `NotFound`, so a record's existence does not leak.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from eth_utils import keccak

from medledger.domain.custodial_keys import seal as aes_seal
from medledger.domain.custodial_keys import unseal as aes_unseal
from medledger.domain.envelopes import REGULATOR_PARTY, parties_of, unwrap, wrap_for
from medledger.domain.errors import ApiError, Conflict, NotFound, Unprocessable
from medledger.domain.services import Services
from medledger.domain.store import api_store
from medledger.indexer.store import records as stored
from medledger.indexer.store.records import SealedRow, StoredRecord
from medledger.sdk.ledger import Ledger

__all__ = [
    "ANCHOR_KINDS",
    "MAX_RECORD_BYTES",
    "RecordKind",
    "RecordProblem",
    "RecordView",
    "SealedRecord",
    "anchor",
    "by_commitment",
    "canonical",
    "commitment_of",
    "import_opened",
    "list_for",
    "matches",
    "opening",
    "read",
    "seal",
    "set_anchor",
    "share",
]

MAX_RECORD_BYTES = 64 * 1024

SealedRecord = StoredRecord


class RecordKind(StrEnum):
    ACCEPTANCE = "acceptance"
    ADVERSE_EVENT = "adverse_event"
    AUDIT_BATCH = "audit_batch"
    CANCELLATION = "cancellation"
    DESTRUCTION = "destruction"
    DISPENSE = "dispense"
    EXPLANT = "explant"
    QC_RELEASE = "qc_release"
    QUALIFICATION = "qualification"
    QUARANTINE = "quarantine"
    RECALL_ACK = "recall_ack"
    RECALL_CLOSURE = "recall_closure"
    RECALL_NOTICE = "recall_notice"
    RECALL_UPDATE = "recall_update"
    RELEASE = "release"
    RETURN = "return"
    RETURN_INSPECTION = "return_inspection"
    SERVICE = "service"
    SHIPMENT_NOTE = "shipment_note"
    SUSPENSION = "suspension"


# The `kind` a record carries when anchored on its own with Records.anchorDocument. Uploaded
# documents use kinds below 256; these codes never change once a record is anchored.
ANCHOR_KINDS: dict[RecordKind, int] = {
    RecordKind.ACCEPTANCE: 256,
    RecordKind.ADVERSE_EVENT: 257,
    RecordKind.AUDIT_BATCH: 258,
    RecordKind.CANCELLATION: 259,
    RecordKind.DESTRUCTION: 260,
    RecordKind.DISPENSE: 261,
    RecordKind.EXPLANT: 262,
    RecordKind.QC_RELEASE: 263,
    RecordKind.QUALIFICATION: 264,
    RecordKind.QUARANTINE: 265,
    RecordKind.RECALL_ACK: 266,
    RecordKind.RECALL_CLOSURE: 267,
    RecordKind.RECALL_NOTICE: 268,
    RecordKind.RECALL_UPDATE: 269,
    RecordKind.RELEASE: 270,
    RecordKind.RETURN: 271,
    RecordKind.RETURN_INSPECTION: 272,
    RecordKind.SERVICE: 273,
    RecordKind.SHIPMENT_NOTE: 274,
    RecordKind.SUSPENSION: 275,
}


class RecordProblem(StrEnum):
    NOT_FOUND = "record_not_found"
    TOO_LARGE = "record_too_large"
    NOT_JSON = "record_not_json"
    MISMATCH = "record_commitment_mismatch"
    CONFLICT = "record_conflict"


@dataclass(frozen=True, slots=True)
class RecordView:
    record: SealedRecord
    body: dict[str, Any]


def canonical(body: Mapping[str, Any]) -> bytes:
    """The bytes a record's commitment covers: sorted keys, no whitespace, UTF-8."""
    try:
        text = json.dumps(
            dict(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ApiError(RecordProblem.NOT_JSON, f"a record must be plain JSON data: {exc}") from exc
    data = text.encode()
    if len(data) > MAX_RECORD_BYTES:
        raise ApiError(
            RecordProblem.TOO_LARGE,
            f"a record may hold at most {MAX_RECORD_BYTES} bytes of JSON, this one {len(data)}",
        )
    return data


def commitment_of(salt: bytes, plaintext: bytes) -> bytes:
    return keccak(salt + hashlib.sha256(plaintext).digest())


def matches(commitment: bytes, salt: bytes, plaintext: bytes) -> bool:
    """Whether `plaintext` with `salt` is what `commitment` (found on chain) commits to."""
    return len(salt) == 32 and commitment_of(salt, plaintext) == commitment


def seal(
    services: Services,
    *,
    kind: RecordKind,
    author: str,
    readers: Iterable[str],
    subject_id: bytes,
    body: Mapping[str, Any],
) -> SealedRecord:
    """Encrypt and store `body` for `author`, `readers` and the regulator; the caller puts
    the returned record's `commitment` on chain."""
    plaintext = canonical(body)
    record_id = secrets.token_hex(16)
    dek = os.urandom(32)
    salt = os.urandom(32)
    nonce, ciphertext = aes_seal(dek, plaintext, aad=record_id.encode())
    record = StoredRecord(
        record_id,
        str(kind),
        author.lower(),
        subject_id,
        commitment_of(salt, plaintext),
        None,
        int(time.time()),
    )
    parties = {author.lower(), REGULATOR_PARTY, *(r.lower() for r in readers)}
    keys = wrap_for(services, record_id, dek, parties)
    stored.add_record(api_store(services).engine, SealedRow(record, salt, nonce, ciphertext), keys)
    return record


def _data_key(services: Services, record_id: str) -> tuple[SealedRow, bytes]:
    found = stored.any_key(api_store(services).engine, record_id)
    if found is None:
        raise NotFound(RecordProblem.NOT_FOUND, f"no record {record_id!r}")
    row, key = found
    return row, unwrap(services, record_id, key)


def share(services: Services, record_id: str, *readers: str) -> None:
    """Let `readers` (member addresses) read the record too."""
    _, dek = _data_key(services, record_id)
    keys = wrap_for(services, record_id, dek, readers)
    stored.add_keys(api_store(services).engine, record_id, keys)


def read(services: Services, record_id: str, *, reader: str, regulator: bool) -> RecordView:
    """The record and its body, for a party only (`NotFound` for anyone else)."""
    found = stored.shared_record(
        api_store(services).engine, record_id, parties_of(reader, regulator=regulator)
    )
    if found is None:
        raise NotFound(RecordProblem.NOT_FOUND, f"no record {record_id!r} shared with you")
    row, key = found
    dek = unwrap(services, record_id, key)
    plaintext = aes_unseal(dek, row.nonce, row.ciphertext, aad=record_id.encode())
    return RecordView(row.record, json.loads(plaintext))


def by_commitment(
    services: Services, commitment: bytes, *, reader: str, regulator: bool
) -> RecordView | None:
    """The record behind an on-chain commitment, if stored here and shared with `reader`."""
    record_id = stored.record_by_commitment(api_store(services).engine, commitment)
    if record_id is None:
        return None
    try:
        return read(services, record_id, reader=reader, regulator=regulator)
    except NotFound:
        return None


def list_for(
    services: Services,
    *,
    reader: str,
    regulator: bool,
    kind: RecordKind | None = None,
    subject_id: bytes | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[SealedRecord]:
    """Records shared with `reader`, newest first."""
    return stored.records_shared_with(
        api_store(services).engine,
        parties_of(reader, regulator=regulator),
        kind=None if kind is None else str(kind),
        subject_id=subject_id,
        limit=limit,
        offset=offset,
    )


def set_anchor(services: Services, record_id: str, tx_hash: str) -> None:
    stored.set_anchor(api_store(services).engine, record_id, tx_hash)


def anchor(services: Services, record: SealedRecord, *, ledger: Ledger) -> SealedRecord:
    """Anchor `record`'s commitment with Records.anchorDocument, sent by `ledger`'s account
    (the author's), for records no other contract call carries."""
    kind = ANCHOR_KINDS[RecordKind(record.kind)]
    result = ledger.anchor_document(record.commitment, subject_id=record.subject_id, kind=kind)
    tx = "0x" + bytes(result.receipt["transactionHash"]).hex()
    set_anchor(services, record.id, tx)
    return StoredRecord(
        record.id,
        record.kind,
        record.author,
        record.subject_id,
        record.commitment,
        tx,
        record.created_at,
    )


def opening(services: Services, record_id: str) -> tuple[bytes, bytes]:
    """(salt, canonical body) of a record: what a regulator checks against the chain with
    `matches`. The caller authorises (regulator only)."""
    row, dek = _data_key(services, record_id)
    return row.salt, aes_unseal(dek, row.nonce, row.ciphertext, aad=record_id.encode())


MAX_PARTIES = 64  # parties one imported record may name (author, readers, regulator)
_PARTY = re.compile(r"^(0x[0-9a-f]{40}|regulator)$")


def import_opened(
    services: Services,
    record: SealedRecord,
    *,
    salt: bytes,
    plaintext: bytes,
    parties: Iterable[str],
) -> bool:
    """Store a record opened by another deployment (the oversight feed) under the SAME id,
    salt and commitment, re-sealed under this deployment's keys for the same `parties`, so
    the commitment on chain still matches. `plaintext` must be the canonical body and
    `matches(record.commitment, salt, plaintext)`, else `Unprocessable(MISMATCH)` and nothing is
    stored. Returns True if stored, False if this store already held it (then only parties
    it lacked and a missing anchor are added): importing twice stores once."""
    try:
        body = json.loads(plaintext)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Unprocessable(RecordProblem.NOT_JSON, "the record's body is not JSON") from exc
    if not isinstance(body, dict) or canonical(body) != plaintext:
        raise Unprocessable(RecordProblem.NOT_JSON, "the record's body is not canonical JSON")
    if not matches(record.commitment, salt, plaintext):
        raise Unprocessable(
            RecordProblem.MISMATCH, f"record {record.id!r} does not match its commitment"
        )
    names = {p.lower() for p in (*parties, record.author, REGULATOR_PARTY)}
    if len(names) > MAX_PARTIES or not all(_PARTY.fullmatch(p) for p in names):
        raise Unprocessable(RecordProblem.NOT_JSON, "a record's parties are member addresses")
    engine = api_store(services).engine
    held = stored.held(engine, record.id)
    if held is not None:
        commitment, anchored_tx, have = held
        if commitment != record.commitment:
            raise Conflict(RecordProblem.CONFLICT, f"record {record.id!r} is held otherwise")
        if names - have:  # (one store shared by both sides holds them all: no unwrapping)
            share(services, record.id, *(names - have))
        if anchored_tx is None and record.anchored_tx is not None:
            stored.set_anchor(engine, record.id, record.anchored_tx)
        return False
    if stored.record_by_commitment(engine, record.commitment) is not None:
        raise Conflict(RecordProblem.CONFLICT, "another record holds that commitment")
    dek = os.urandom(32)
    nonce, ciphertext = aes_seal(dek, plaintext, aad=record.id.encode())
    keys = wrap_for(services, record.id, dek, names)
    if stored.add_record_if_absent(engine, SealedRow(record, salt, nonce, ciphertext), keys):
        return True
    again = stored.held(engine, record.id)  # a concurrent import of the same record won
    if again is None or again[0] != record.commitment:
        raise Conflict(RecordProblem.CONFLICT, "another record holds that commitment")
    return False
