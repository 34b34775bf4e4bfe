"""Inspection exports, the use cases the faces call: a member's GSP records of one kind for
one period (`member_export`), the regulator's recall summary report (`recall_report`), both
as a signed XLSX or PDF file, and the verification of such a file (`verify_export`).

Who may export what is the faces' guard plus this module's scoping: a member exports only
its own records (the partner routes pass the signed-in member), the regulator exports any
member's (404 `unknown_member` for an address that is not one). A file is signed by the
exporting deployment's key: the member's custodial key on the partner API (503
`export_key_missing` for a member that keeps its key itself), the regulator's key on the
regulator's deployment. The parts live in `domain.exports`: `model` (content, period,
signature), `tables` (the record tables), `recall_report`, `xlsx`, `pdf`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum

from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address
from sqlalchemy import Connection

from medledger.domain.chain import vault
from medledger.domain.errors import NotConfigured, NotFound, Unprocessable
from medledger.domain.exports.model import (
    Export,
    ExportProblem,
    parse_period,
    recover_signer,
    sign_export,
)
from medledger.domain.exports.pdf import read_seal, write_pdf
from medledger.domain.exports.recall_report import recall_report_table
from medledger.domain.exports.tables import KINDS, ExportKind, Table, build_table
from medledger.domain.exports.xlsx import read_xlsx, write_xlsx
from medledger.domain.regulator import regulator_account
from medledger.domain.services import Services
from medledger.indexer.queries.organisation_names import organisation_name

__all__ = [
    "KINDS",
    "MAX_UPLOAD",
    "ExportFile",
    "ExportFormat",
    "ExportKind",
    "ExportProblem",
    "Verification",
    "export_kind",
    "member_export",
    "recall_report",
    "verify_export",
]

MAX_UPLOAD = 8 * 1024 * 1024  # bytes of a file to verify


class ExportFormat(StrEnum):
    XLSX = "xlsx"
    PDF = "pdf"


MEDIA_TYPES = {
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.PDF: "application/pdf",
}


@dataclass(frozen=True, slots=True)
class ExportFile:
    filename: str
    media_type: str
    data: bytes
    content_hash: str
    signer: str


def export_kind(text: str) -> ExportKind:
    try:
        return ExportKind(text)
    except ValueError:
        raise NotFound(
            ExportProblem.UNKNOWN_KIND,
            f"no export {text[:40]!r}: one of {', '.join(k.value for k in KINDS)}",
        ) from None


def _signer(services: Services, *, member: str, regulator: bool) -> LocalAccount:
    if regulator:
        return regulator_account(services)
    account = vault(services).get(member)
    if account is None:
        raise NotConfigured(
            ExportProblem.KEY_MISSING,
            f"{member} keeps its own key: exports are signed with a custodial key",
        )
    return account


def _file(
    services: Services,
    conn: Connection,
    export: Export,
    fmt: ExportFormat,
    account: LocalAccount,
    stem: str,
) -> ExportFile:
    signed = sign_export(export, account)
    name = organisation_name(conn, signed.signer) or ""
    data = (
        write_xlsx(signed, signer_name=name)
        if fmt is ExportFormat.XLSX
        else write_pdf(signed, account, signer_name=name)
    )
    return ExportFile(
        f"{stem}.{fmt.value}", MEDIA_TYPES[fmt], data, signed.content_hash.hex(), signed.signer
    )


def _export(table: Table, *, kind: str, member: str, name: str, period: str, now: int) -> Export:
    return Export(
        kind, table.title_zh, table.title_en, member, name, period, now, table.columns, table.rows
    )


def member_export(
    services: Services,
    conn: Connection,
    *,
    kind: ExportKind,
    member: str,
    period: str,
    fmt: ExportFormat,
    regulator: bool,
    now: int,
) -> ExportFile:
    """`member`'s records of `kind` in `period`, signed by the member's custodial key (or,
    `regulator`, by the regulator's key). The caller has checked who may ask."""
    if not is_address(member):
        raise Unprocessable(ExportProblem.UNKNOWN_MEMBER, "member must be a 0x address")
    member = to_checksum_address(member)
    name = organisation_name(conn, member)
    if name is None:
        raise NotFound(ExportProblem.UNKNOWN_MEMBER, f"{member} is not a member")
    span = parse_period(period)
    account = _signer(services, member=member, regulator=regulator)
    table = build_table(
        services, conn, kind, member=member, regulator=regulator, period=span, now=now
    )
    export = _export(table, kind=kind.value, member=member, name=name, period=span.label, now=now)
    stem = f"{kind.value}-{span.label.replace('..', '_')}-{member[2:10].lower()}"
    return _file(services, conn, export, fmt, account, stem)


def recall_report(
    services: Services, conn: Connection, recall_id: int, *, fmt: ExportFormat, now: int
) -> ExportFile:
    """The regulator's recall summary report, signed with the regulator's key."""
    account = regulator_account(services)
    table, maker = recall_report_table(
        services, conn, recall_id, regulator=account.address, now=now
    )
    export = _export(table, kind="recall-report", member="", name=maker, period="", now=now)
    return _file(services, conn, export, fmt, account, f"recall-{recall_id}-report")


@dataclass(frozen=True, slots=True)
class Verification:
    valid: bool
    format: str | None
    reason: str  # why not valid ("" when valid)
    signer: str | None = None
    signer_name: str | None = None
    content_sha256: str | None = None
    kind: str | None = None
    title: str | None = None
    member: str | None = None
    member_name: str | None = None
    period: str | None = None
    generated_at: int | None = None
    rows: int | None = None


def _invalid(fmt: str | None, reason: str) -> Verification:
    return Verification(False, fmt, reason)


def verify_export(conn: Connection | None, data: bytes) -> Verification:
    """Whether `data` is an export file exactly as its signer made it, and who signed it
    (with the signer's organisation name when a read model `conn` is given)."""
    if data.startswith(b"%PDF-"):
        return _verify_pdf(conn, data)
    if data.startswith(b"PK"):
        return _verify_xlsx(conn, data)
    return _invalid(None, "neither a PDF nor an XLSX file")


def _valid(
    conn: Connection | None, fmt: str, export: Export, digest: str, signer: str
) -> Verification:
    return Verification(
        True,
        fmt,
        "",
        signer=signer,
        signer_name=None if conn is None else organisation_name(conn, signer),
        content_sha256=digest,
        kind=export.kind,
        title=f"{export.title_zh} {export.title_en}",
        member=export.member or None,
        member_name=export.member_name,
        period=export.period or None,
        generated_at=export.generated_at,
        rows=len(export.rows),
    )


def _recover(digest_hex: str, signature_hex: str) -> str:
    return recover_signer(
        bytes.fromhex(digest_hex), bytes.fromhex(signature_hex.removeprefix("0x"))
    )


def _verify_xlsx(conn: Connection | None, data: bytes) -> Verification:
    try:
        export, stated_hash, stated_signer, signature = read_xlsx(data)
        signer = _recover(stated_hash, signature)
    except ValueError as exc:
        return _invalid("xlsx", str(exc))
    digest = export.content_hash().hex()
    if digest != stated_hash:
        return _invalid("xlsx", "the cells do not match the signed content hash")
    if signer != stated_signer:
        return _invalid("xlsx", "the signature is not the stated signer's")
    return _valid(conn, "xlsx", export, digest, signer)


def _verify_pdf(conn: Connection | None, data: bytes) -> Verification:
    try:
        body, seal = read_seal(data)
        content = _b64(seal["content"])
        export = Export.from_content(json.loads(content))
        content_signer = _recover(str(seal["content_sha256"]), str(seal["signature"]))
        file_signer = _recover(str(seal["file_sha256"]), str(seal["file_signature"]))
    except (KeyError, TypeError, ValueError) as exc:
        return _invalid("pdf", f"the seal is not readable: {exc}")
    digest = hashlib.sha256(content).hexdigest()
    if hashlib.sha256(body).hexdigest() != seal["file_sha256"]:
        return _invalid("pdf", "the file was changed after it was signed")
    if digest != seal["content_sha256"] or export.content_hash().hex() != digest:
        return _invalid("pdf", "the content does not match the signed content hash")
    if f"sha256:{digest}".encode() not in body:
        return _invalid("pdf", "the printed content hash is not the sealed one")
    if not content_signer == file_signer == seal.get("signer"):
        return _invalid("pdf", "the signatures are not the stated signer's")
    return _valid(conn, "pdf", export, digest, file_signer)


def _b64(text: object) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from exc
