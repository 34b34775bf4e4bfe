"""Bulk imports: upload a CSV/XLSX of commissioning rows, lots or products
(`POST /v1/partner/imports`, 202 + the job), follow it (`GET .../{id}`: progress and the
per-row problems, paged), download the problems as a file with an error column
(`.../errors.csv`, `.../errors.xlsx`) and resume an interrupted job (`POST .../resume`).
The HTTP face of `domain.bulk_import`; a job is its uploader's alone (404 to others)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from medledger.domain.api_examples import example
from medledger.domain.bulk_import import jobs
from medledger.domain.bulk_import.files import MAX_FILE_BYTES
from medledger.domain.bulk_import.report import error_file
from medledger.domain.errors import Unprocessable
from medledger.domain.partner_schemas import PROBLEMS
from medledger.web.deps import ServicesDep
from medledger.web.members import CurrentMember
from medledger.web.pagination import Limit, Offset

__all__ = ["router"]

router = APIRouter(prefix="/v1/partner/imports", tags=["partner"], responses=PROBLEMS)
JobId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
KindName = Literal["commissioning", "lots", "products"]


class ImportProblemOut(BaseModel):
    row: int = Field(description="the row number in the file (the header is row 1)")
    column: str
    code: str
    value: str
    message_zh: str
    message_en: str


class ImportJobOut(BaseModel):
    model_config = example(
        {
            "id": "imp_3f1c9a2b7d4e",
            "kind": "commissioning",
            "filename": "commissioning-2026-12.csv",
            "state": "invalid",
            "total_rows": 10000,
            "done_rows": 0,
            "percent": 0,
            "error_count": 1,
            "problem": None,
            "created_at": 1796514902,
            "finished_at": None,
            "errors": [
                {
                    "row": 42,
                    "column": "serial",
                    "code": "duplicate_in_file",
                    "value": "SN0041",
                    "message_zh": "与第 17 行重复",
                    "message_en": "repeats row 17",
                }
            ],
        }
    )

    id: str
    kind: str
    filename: str
    state: str = Field(description="invalid, ready, running, interrupted, done or failed")
    total_rows: int
    done_rows: int
    percent: int
    error_count: int
    problem: dict[str, str] | None = Field(description="why a failed job stopped")
    created_at: int
    finished_at: int | None
    errors: list[ImportProblemOut] = Field(default_factory=list, description="this page")


def _out(job: jobs.ImportJob, errors: list[ImportProblemOut] | None = None) -> ImportJobOut:
    return ImportJobOut(
        id=job.id,
        kind=job.kind,
        filename=job.filename,
        state=job.state,
        total_rows=job.total_rows,
        done_rows=job.done_rows,
        percent=job.percent,
        error_count=job.error_count,
        problem=job.problem,
        created_at=job.created_at,
        finished_at=job.finished_at,
        errors=errors or [],
    )


_UPLOAD_EXAMPLE = {"file": "commissioning-2026-12.csv", "kind": "commissioning"}


@router.post(
    "",
    response_model=ImportJobOut,
    status_code=202,
    openapi_extra={
        "requestBody": {"content": {"multipart/form-data": {"example": _UPLOAD_EXAMPLE}}}
    },
)
async def upload(
    file: Annotated[UploadFile, File(description="a .csv (UTF-8 or GB18030) or .xlsx file")],
    kind: Annotated[KindName, Form()],
    member: CurrentMember,
    services: ServicesDep,
) -> ImportJobOut:
    """Check every row; a clean file starts writing at once (follow it with GET), a file
    with any bad row writes nothing and its job lists the problems (the first 100 here)."""
    data = await file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise Unprocessable("import_file_too_large", f"files are limited to {MAX_FILE_BYTES} bytes")
    name = file.filename or "upload.csv"
    job = await run_in_threadpool(
        lambda: jobs.create_job(services, member=member, kind=kind, filename=name, data=data)
    )
    if job.state == "ready":
        jobs.start_job(services, member=member, job_id=job.id)
        return _out(job)
    return _out(job, _errors(services, member, job.id, limit=100, offset=0))


def _errors(
    services: ServicesDep, member: CurrentMember, job_id: str, *, limit: int, offset: int
) -> list[ImportProblemOut]:
    rows = jobs.job_errors(services, member=member, job_id=job_id, limit=limit, offset=offset)
    return [ImportProblemOut.model_validate(e, from_attributes=True) for e in rows]


@router.get("", response_model=list[ImportJobOut])
def list_jobs(member: CurrentMember, services: ServicesDep) -> list[ImportJobOut]:
    """Your latest 50 import jobs, newest first."""
    return [_out(j) for j in jobs.jobs_of(services, member=member)]


@router.get("/{job_id}", response_model=ImportJobOut)
def job(
    job_id: JobId, member: CurrentMember, services: ServicesDep, limit: Limit, offset: Offset
) -> ImportJobOut:
    """The job's progress and a page of its row problems."""
    found = jobs.view_job(services, member=member, job_id=job_id)
    return _out(found, _errors(services, member, found.id, limit=limit, offset=offset))


def _file(services: ServicesDep, member: CurrentMember, job_id: str, fmt: str) -> Response:
    rows = jobs.job_errors(services, member=member, job_id=job_id, limit=None)
    media = {
        "csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }[fmt]
    return Response(
        error_file(rows, "csv" if fmt == "csv" else "xlsx"),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="import-{job_id}-errors.{fmt}"'},
    )


@router.get("/{job_id}/errors.csv", response_class=Response)
def errors_csv(job_id: JobId, member: CurrentMember, services: ServicesDep) -> Response:
    """Every bad row as read, with the error column (UTF-8 with BOM)."""
    return _file(services, member, job_id, "csv")


@router.get("/{job_id}/errors.xlsx", response_class=Response)
def errors_xlsx(job_id: JobId, member: CurrentMember, services: ServicesDep) -> Response:
    return _file(services, member, job_id, "xlsx")


@router.post("/{job_id}/resume", response_model=ImportJobOut, status_code=202)
def resume(job_id: JobId, member: CurrentMember, services: ServicesDep) -> ImportJobOut:
    """Continue an interrupted or failed job from its first unconfirmed chunk; a chunk
    that may have landed is checked on the ledger first, so nothing is written twice."""
    return _out(jobs.resume_job(services, member=member, job_id=job_id))
