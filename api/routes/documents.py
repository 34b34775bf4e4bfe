"""Partner documents (delivery notes, inspection reports, temperature logs): upload
encrypted, anchor the salted hash with Records.anchorDocument, read back only as a party.

Upload is JSON with base64 content, or multipart. If the uploader has a custodial key the
API anchors the hash at once; otherwise the answer carries the hash to anchor with the
member's own transaction (POST /v1/partner/transactions). The use case is
`domain.document_upload`.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from medledger.domain import documents as docs
from medledger.domain.auth import Member
from medledger.domain.document_upload import MAX_DOCUMENT_BYTES, DocumentProblem, upload_document
from medledger.domain.errors import ApiError
from medledger.domain.partner_schemas import PROBLEMS, Address, Hex32, Strict, hexs
from medledger.domain.services import Services
from medledger.web.deps import ServicesDep
from medledger.web.members import CurrentMember
from medledger.web.pagination import Limit, Offset

__all__ = ["router"]

router = APIRouter(prefix="/v1/partner/documents", tags=["documents"], responses=PROBLEMS)


class DocumentIn(Strict):
    subject_id: Hex32 = Field(description="the item, shipment-related id or lot key it is about")
    kind: int = Field(ge=1, le=65535)
    counterparty: Address | None = Field(default=None, description="the other party to share with")
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(default="application/octet-stream", min_length=1, max_length=255)
    content_base64: str = Field(
        max_length=(MAX_DOCUMENT_BYTES * 4) // 3 + 4, pattern="^[A-Za-z0-9+/]*={0,2}$"
    )


class DocumentOut(BaseModel):
    id: str
    uploader: str
    counterparty: str | None
    subject_id: str
    kind: int
    filename: str
    content_type: str
    document_hash: str
    anchored_tx: str | None
    created_at: int


class DocumentContentOut(DocumentOut):
    content_base64: str


def _out(d: docs.StoredDocument) -> DocumentOut:
    return DocumentOut(
        id=d.id,
        uploader=d.uploader,
        counterparty=d.counterparty,
        subject_id=hexs(d.subject_id),
        kind=d.kind,
        filename=d.filename,
        content_type=d.content_type,
        document_hash=hexs(d.document_hash),
        anchored_tx=d.anchored_tx,
        created_at=d.created_at,
    )


@router.post("", response_model=DocumentOut, status_code=201)
def upload(body: DocumentIn, member: CurrentMember, services: ServicesDep) -> DocumentOut:
    """Encrypt and store a document (JSON, base64 content) for you, the counterparty and
    the regulator; anchor its salted hash on chain."""
    try:
        content = base64.b64decode(body.content_base64, validate=True)
    except ValueError as exc:  # binascii.Error, or non-ASCII text
        raise ApiError(
            DocumentProblem.INVALID_BASE64, f"content_base64 is not base64: {exc}"
        ) from exc
    return _store(services, member, body, content)


@router.post("/upload", response_model=DocumentOut, status_code=201)
async def upload_multipart(
    file: Annotated[UploadFile, File(description="the document")],
    subject_id: Annotated[str, Form(pattern="^0x[0-9a-fA-F]{64}$")],
    kind: Annotated[int, Form(ge=1, le=65535)],
    member: CurrentMember,
    services: ServicesDep,
    counterparty: Annotated[str | None, Form(pattern="^0x[0-9a-fA-F]{40}$")] = None,
) -> DocumentOut:
    """The same as POST /v1/partner/documents, as multipart/form-data."""
    content = await file.read(MAX_DOCUMENT_BYTES + 1)
    if len(content) > MAX_DOCUMENT_BYTES:
        raise ApiError(
            DocumentProblem.TOO_LARGE, f"documents are limited to {MAX_DOCUMENT_BYTES} bytes"
        )
    try:
        body = DocumentIn.model_validate(
            {
                "subject_id": subject_id,
                "kind": kind,
                "counterparty": counterparty,
                "filename": (file.filename or "document")[:255],
                "content_type": (file.content_type or "application/octet-stream")[:255],
                "content_base64": "",
            }
        )
    except ValidationError as exc:
        raise ApiError("invalid_request", str(exc)) from exc
    return await run_in_threadpool(_store, services, member, body, content)


def _store(services: Services, member: Member, body: DocumentIn, content: bytes) -> DocumentOut:
    stored = upload_document(
        services,
        uploader=member.address,
        counterparty=body.counterparty,
        subject_id=body.subject_id,
        kind=body.kind,
        filename=body.filename,
        content_type=body.content_type,
        content=content,
    )
    return _out(stored)


@router.get("", response_model=list[DocumentOut])
def list_documents(
    member: CurrentMember,
    services: ServicesDep,
    limit: Limit,
    offset: Offset,
) -> list[DocumentOut]:
    """Documents shared with you (as uploader, counterparty or regulator)."""
    found = docs.list_for(
        services,
        address=member.address,
        regulator=member.is_regulator,
        limit=min(limit, services.settings.max_page_size),
        offset=offset,
    )
    return [_out(d) for d in found]


@router.get("/{document_id}", response_model=DocumentContentOut)
def get_document(
    document_id: str, member: CurrentMember, services: ServicesDep
) -> DocumentContentOut:
    """The decrypted document, for a party only."""
    stored, plaintext = docs.read(
        services, document_id, address=member.address, regulator=member.is_regulator
    )
    return DocumentContentOut(
        **_out(stored).model_dump(), content_base64=base64.b64encode(plaintext).decode()
    )
