"""Routes: inspection exports (`domain.inspection_exports`). A member downloads its own GSP
records of one kind for a period as a signed XLSX or PDF; the regulator downloads any
member's, and the recall summary report of any recall; anyone signed in (a member on the
partner API, regulator staff on the regulator's deployment) uploads a file to learn whether
it is intact and who signed it.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, File, Path, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from starlette.responses import Response

from medledger.domain.errors import ApiError
from medledger.domain.inspection_exports import (
    MAX_UPLOAD,
    ExportFormat,
    ExportProblem,
    export_kind,
    member_export,
    recall_report,
    verify_export,
)
from medledger.domain.partner_schemas import PROBLEMS
from medledger.web.deps import ConnDep, ServicesDep
from medledger.web.downloads import export_download
from medledger.web.members import CurrentMember
from medledger.web.oversight import RegulatorOnly, TraceScopeDep

__all__ = ["router"]

router = APIRouter(responses=PROBLEMS)

Kind = Annotated[str, Path(max_length=40, description="purchase, acceptance, sales, ...")]
PeriodQ = Annotated[
    str,
    Query(
        min_length=7,
        max_length=40,
        description="a month (2026-12) or a range (2026-12-01..2027-01-31), at most 12 months",
    ),
]
FormatQ = Annotated[ExportFormat, Query(alias="format")]
MemberQ = Annotated[str, Query(pattern="^0x[0-9a-fA-F]{40}$")]
RecallId = Annotated[int, Path(ge=1, le=2**32 - 1)]


@router.get("/v1/partner/exports/{record_kind}", tags=["partner"], response_class=Response)
def partner_export(
    record_kind: Kind,
    period: PeriodQ,
    member: CurrentMember,
    services: ServicesDep,
    conn: ConnDep,
    fmt: FormatQ = ExportFormat.XLSX,
) -> Response:
    """The signed-in member's own records of `record_kind` in `period`, signed with its custodial
    key."""
    found = member_export(
        services,
        conn,
        kind=export_kind(record_kind),
        member=member.address,
        period=period,
        fmt=fmt,
        regulator=False,
        now=int(time.time()),
    )
    return export_download(found)


@router.get(
    "/v1/regulator/exports/{record_kind}",
    tags=["regulator"],
    response_class=Response,
    dependencies=[RegulatorOnly],
)
def regulator_export(
    record_kind: Kind,
    member: MemberQ,
    period: PeriodQ,
    services: ServicesDep,
    conn: ConnDep,
    fmt: FormatQ = ExportFormat.XLSX,
) -> Response:
    """Any member's records of `record_kind` in `period`, signed with the regulator's key."""
    found = member_export(
        services,
        conn,
        kind=export_kind(record_kind),
        member=member,
        period=period,
        fmt=fmt,
        regulator=True,
        now=int(time.time()),
    )
    return export_download(found)


@router.get(
    "/v1/regulator/recalls/{recall_id}/report",
    tags=["regulator"],
    response_class=Response,
    dependencies=[RegulatorOnly],
)
def recall_summary_report(
    recall_id: RecallId, services: ServicesDep, conn: ConnDep, fmt: FormatQ = ExportFormat.PDF
) -> Response:
    """The recall summary report: per holder outstanding, returned, destroyed, dispensed,
    acknowledgement and lateness, signed with the regulator's key."""
    found = recall_report(services, conn, recall_id, fmt=fmt, now=int(time.time()))
    return export_download(found)


class VerificationOut(BaseModel):
    valid: bool
    format: str | None
    reason: str
    signer: str | None
    signer_name: str | None
    content_sha256: str | None
    kind: str | None
    title: str | None
    member: str | None
    member_name: str | None
    period: str | None
    generated_at: int | None
    rows: int | None


def _verify(services: ServicesDep, data: bytes) -> VerificationOut:
    with services.engine.connect() as conn:
        found = verify_export(conn, data)
    return VerificationOut.model_validate(found, from_attributes=True)


@router.post("/v1/exports/verify", response_model=VerificationOut, tags=["partner"])
async def verify_upload(
    file: Annotated[UploadFile, File(description="an export file (XLSX or PDF)")],
    _scope: TraceScopeDep,
    services: ServicesDep,
) -> VerificationOut:
    """Whether an uploaded export is exactly as its signer made it, and who signed it
    (`valid: false` with the reason otherwise)."""
    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise ApiError(ExportProblem.BAD_FILE, f"files are limited to {MAX_UPLOAD} bytes")
    return await run_in_threadpool(_verify, services, data)
