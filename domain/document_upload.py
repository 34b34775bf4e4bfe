"""Uploading a partner document (delivery note, inspection report, registration
certificate): stored encrypted for the uploader, the counterparty and the regulator
(`domain.documents`), its salted hash anchored with Records.anchorDocument.

If the uploader has a custodial key the hash is anchored at once, signed with it;
otherwise the stored document carries the hash for the member to anchor with its own
transaction (POST /v1/partner/transactions).
"""

from __future__ import annotations

from enum import StrEnum

from medledger.domain import documents as docs
from medledger.domain.chain import custodial_ledger, vault
from medledger.domain.errors import ApiError
from medledger.domain.services import Services

__all__ = ["MAX_DOCUMENT_BYTES", "DocumentProblem", "upload_document"]

MAX_DOCUMENT_BYTES = 8 * 1024 * 1024


class DocumentProblem(StrEnum):
    TOO_LARGE = "document_too_large"
    INVALID_COUNTERPARTY = "invalid_counterparty"
    INVALID_BASE64 = "invalid_base64"


def upload_document(
    services: Services,
    *,
    uploader: str,
    counterparty: str | None,
    subject_id: bytes,
    kind: int,
    filename: str,
    content_type: str,
    content: bytes,
) -> docs.StoredDocument:
    """Store `content` encrypted for `uploader` (a member address), `counterparty` (another
    member's, or None) and the regulator, and anchor its hash if the uploader has a
    custodial key."""
    if counterparty == uploader:
        raise ApiError(
            DocumentProblem.INVALID_COUNTERPARTY, "the counterparty must be another member"
        )
    custodial = vault(services).get(uploader) is not None
    if custodial:
        # Fail before storing anything if the member may not anchor (e.g. suspended).
        ledger = custodial_ledger(services, uploader)
    stored = docs.store(
        services,
        uploader=uploader,
        counterparty=counterparty,
        subject_id=subject_id,
        kind=kind,
        filename=filename,
        content_type=content_type,
        content=content,
    )
    if custodial:
        result = ledger.anchor_document(stored.document_hash, subject_id=subject_id, kind=kind)
        tx = "0x" + bytes(result.receipt["transactionHash"]).hex()
        docs.set_anchor(services, stored.id, tx)
        stored = docs.read(services, stored.id, address=uploader, regulator=False)[0]
    return stored
