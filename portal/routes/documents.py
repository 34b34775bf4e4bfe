"""Documents in the portal: files a member attaches to a shipment (delivery note,
inspection report) or a product (registration certificate) are stored encrypted for the
parties and anchored on chain (`domain.document_upload`, as the documents API does);
`/portal/documents/{id}` serves one, decrypted, to a party only, as a download.

Files go with an operation (ship, receive, register a product) and are stored after its
chain write. If storing one fails then, the operation stands: `attach_after` answers with
a page saying it is recorded (with its transaction), which files were not stored and why,
and a form to attach them again (`/portal/documents/attach`), never the operation's own
form, which must not be submitted twice."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from eth_utils import to_checksum_address
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from medledger.domain.document_upload import MAX_DOCUMENT_BYTES, DocumentProblem, upload_document
from medledger.domain.documents import StoredDocument, list_for, read
from medledger.domain.errors import ApiError
from medledger.portal.context import Csrf, Ctx, role_ctx
from medledger.portal.errors import ACTION_ERRORS, MESSAGES, FormError, failure
from medledger.portal.forms import local_path
from medledger.sdk.model import Role

__all__ = [
    "Recorded",
    "attach",
    "attach_after",
    "check_sizes",
    "documents_about",
    "form_fields",
    "router",
    "upload",
]

log = logging.getLogger(__name__)
router = APIRouter(prefix="/portal/documents", include_in_schema=False)
PARTNERS = frozenset({Role.MANUFACTURER, Role.DISTRIBUTOR, Role.LOGISTICS, Role.HOSPITAL})
Party = Annotated[Ctx, role_ctx(*PARTNERS, Role.REGULATOR)]
Partner = Annotated[Ctx, role_ctx(*PARTNERS)]
# Document kinds anchored with Records.anchorDocument.
DELIVERY_NOTE, INSPECTION_RECORD, REGISTRATION_CERTIFICATE = 1, 2, 3
KINDS = (DELIVERY_NOTE, INSPECTION_RECORD, REGISTRATION_CERTIFICATE)
TX_HASH = re.compile(r"^0x[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Recorded:
    """An operation on the ledger that documents go with: what the clerk is told about it
    (translated sentences), its transaction, and the page to go on to."""

    summary: list[str]
    tx_hash: str
    next_url: str


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
            raise FormError(DocumentProblem.TOO_LARGE, too_large, {"documents": too_large})


def upload(
    ctx: Ctx, file: UploadFile, subject: bytes, kind: int, counterparty: str | None
) -> StoredDocument:
    """Store one uploaded file encrypted for the member, the counterparty and the
    regulator, and anchor its hash on chain (`domain.document_upload`)."""
    file.file.seek(0)
    return upload_document(
        ctx.services,
        uploader=ctx.signed_in.address,
        counterparty=None if counterparty is None else to_checksum_address(counterparty),
        subject_id=subject,
        kind=kind,
        filename=(file.filename or "document")[:255],
        content_type=(file.content_type or "application/octet-stream")[:255],
        content=file.file.read(),
    )


def attach(
    ctx: Ctx, files: Sequence[UploadFile], *, subject: bytes, kind: int, counterparty: str | None
) -> None:
    """Store each file encrypted for the member, the counterparty and the regulator, and
    anchor its hash on chain."""
    check_sizes(files)
    for file in files:
        upload(ctx, file, subject, kind, counterparty)


def attach_after(
    ctx: Ctx,
    files: Sequence[UploadFile],
    recorded: Recorded,
    *,
    subject: bytes,
    kind: int,
    counterparty: str | None,
) -> HTMLResponse | None:
    """`attach` for an operation already on the ledger: None when every file is stored,
    else the page that says the operation is recorded and which files to attach again."""
    for done, file in enumerate(files):
        try:
            attach(ctx, [file], subject=subject, kind=kind, counterparty=counterparty)
        except Exception as exc:  # noqa: BLE001 (whatever failed, the operation stands)
            log.exception("document %r not stored after %s", file.filename, recorded.tx_hash)
            return ctx.render(
                "documents/not_stored.html",
                recorded=recorded,
                stored=[f.filename for f in files[:done]],
                missing=[f.filename for f in files[done:]],
                reason=_reason(ctx, exc),
                target={
                    "subject": "0x" + subject.hex(),
                    "kind": str(kind),
                    "counterparty": counterparty or "",
                },
            )
    return None


def _reason(ctx: Ctx, exc: Exception) -> str:
    """Why a file was not stored, without presenting the operation as failed."""
    if isinstance(exc, ACTION_ERRORS):
        problem = failure(exc)
        return ctx._(MESSAGES[problem.code]) if problem.code in MESSAGES else problem.detail
    return ctx._("The document store is unavailable.")


@router.post("/attach")
async def attach_again(request: Request, ctx: Partner, _: Csrf) -> Response:
    """Attach files to an operation already on the ledger (from the not-stored page)."""
    async with request.form() as form:  # closes the uploaded files afterwards
        typed, files = form_fields(form)
        return await run_in_threadpool(_attach_again, ctx, typed, files)


def _attach_again(ctx: Ctx, typed: dict[str, str], files: list[UploadFile]) -> Response:
    tx_hash, next_url = typed.get("tx_hash", ""), local_path(typed.get("next"))
    try:
        subject = bytes.fromhex(typed.get("subject", "").removeprefix("0x"))
        kind = int(typed.get("kind", ""))
        if len(subject) != 32 or kind not in KINDS or not TX_HASH.match(tx_hash) or not next_url:
            raise ValueError(typed)
        check_sizes(files)
    except ValueError as exc:
        bad = FormError("invalid_request", f"not an attachment to a recorded operation: {exc}")
        return ctx.render("error.html", problem=bad)
    except FormError as exc:
        return ctx.render("error.html", problem=exc)
    recorded = Recorded([ctx._("The operation is recorded on the ledger.")], tx_hash, next_url)
    failed = attach_after(
        ctx,
        files,
        recorded,
        subject=subject,
        kind=kind,
        counterparty=typed.get("counterparty") or None,
    )
    return failed or RedirectResponse(next_url, status_code=303)


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
