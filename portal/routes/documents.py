"""Documents in the portal: files a member attaches to a shipment (delivery note,
inspection report) or a product (registration certificate) are stored encrypted for the
parties and anchored on chain through the documents API (`api.routes.documents.upload`);
`/portal/documents/{id}` serves one, decrypted, to a party only, as a download."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Sequence
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from api.documents import StoredDocument, list_for, read
from api.errors import ApiError
from api.routes.documents import MAX_DOCUMENT_BYTES, DocumentIn, upload
from portal.context import Ctx, role_ctx
from portal.errors import FormError
from sdk.model import Role

__all__ = ["attach", "check_sizes", "documents_about", "form_fields", "router"]

router = APIRouter(prefix="/portal/documents", include_in_schema=False)
PARTNERS = frozenset({Role.MANUFACTURER, Role.DISTRIBUTOR, Role.LOGISTICS, Role.HOSPITAL})
Party = Annotated[Ctx, role_ctx(*PARTNERS, Role.REGULATOR)]
# Document kinds anchored with Records.anchorDocument.
DELIVERY_NOTE, INSPECTION_RECORD, REGISTRATION_CERTIFICATE = 1, 2, 3


def form_fields(form: FormData) -> tuple[dict[str, str], list[UploadFile]]:
    """A multipart form's text fields (as typed, to re-render) and its uploaded files
    (field `documents`)."""
    typed = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    files = [f for f in form.getlist("documents") if isinstance(f, UploadFile) and f.filename]
    return typed, files


def check_sizes(files: Iterable[UploadFile]) -> None:
    """Refuse an oversized file; call it before the chain write the files go with, so a
    refused file never leaves a half-done action behind."""
    for file in files:
        size = file.file.seek(0, os.SEEK_END)
        file.file.seek(0)
        if size > MAX_DOCUMENT_BYTES:
            too_large = f"{file.filename} is larger than {MAX_DOCUMENT_BYTES} bytes"
            raise FormError("document_too_large", too_large, {"documents": too_large})


def attach(
    ctx: Ctx, files: Sequence[UploadFile], *, subject: bytes, kind: int, counterparty: str | None
) -> None:
    """Store each file encrypted for the member, the counterparty and the regulator, and
    anchor its hash on chain."""
    check_sizes(files)
    for file in files:
        file.file.seek(0)
        content = file.file.read()
        body = DocumentIn.model_validate(
            {
                "subject_id": "0x" + subject.hex(),
                "kind": kind,
                "counterparty": counterparty,
                "filename": (file.filename or "document")[:255],
                "content_type": (file.content_type or "application/octet-stream")[:255],
                "content_base64": base64.b64encode(content).decode(),
            }
        )
        upload(body, ctx.signed_in, ctx.services)


def documents_about(ctx: Ctx, subjects: set[bytes]) -> dict[bytes, list[StoredDocument]]:
    """Documents about `subjects` shared with the member (among its newest 500)."""
    member = ctx.signed_in
    shared = list_for(
        ctx.services, address=member.address, regulator=member.is_regulator, limit=500, offset=0
    )
    found: dict[bytes, list[StoredDocument]] = {}
    for stored in shared:
        if stored.subject_id in subjects:
            found.setdefault(stored.subject_id, []).append(stored)
    return found


@router.get("/{document_id}")
def download(ctx: Party, document_id: str) -> Response:
    """The decrypted document for a party (never rendered inline: its content is whatever
    the uploader sent)."""
    member = ctx.signed_in
    try:
        stored, content = read(
            ctx.services, document_id, address=member.address, regulator=member.is_regulator
        )
    except ApiError as exc:
        return ctx.render("error.html", problem=exc, status_code=exc.status)
    return Response(
        content,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(stored.filename)}",
            "X-Content-Type-Options": "nosniff",
        },
    )
