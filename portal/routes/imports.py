"""Bulk import pages (`/portal/imports`): upload a CSV/XLSX of commissioning rows, lots,
products, shipments or receipts (templates at `/portal/imports/templates/KIND.csv`),
follow its progress bar (htmx polls the job's fragment, as `portal.jobs` pages do: no
inline script), read the per-row problems in the clerk's language, download them
as a file with an error column, and resume an interrupted job. The face of
`domain.bulk_import`; a job is its member's alone (404 to another)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from medledger.domain.bulk_import import jobs
from medledger.domain.bulk_import.files import MAX_FILE_BYTES
from medledger.domain.bulk_import.report import error_file
from medledger.domain.bulk_import.templates import template_csv
from medledger.domain.errors import ApiError
from medledger.portal.context import Csrf, Ctx, role_ctx
from medledger.portal.errors import PortalFailure
from medledger.portal.nav import NavItem, _l, register
from medledger.sdk.model import Role

__all__ = ["router"]

router = APIRouter(prefix="/portal/imports", include_in_schema=False)
# Manufacturers commission and register lots; every supply-chain member ships and receives.
ROLES = (Role.MANUFACTURER, Role.DISTRIBUTOR, Role.LOGISTICS, Role.HOSPITAL)
Manufacturer = Annotated[Ctx, role_ctx(*ROLES)]
register(NavItem("/portal/imports", _l("Bulk import"), frozenset(ROLES), 25))
ERRORS_SHOWN = 500  # rows of problems on the page; the file holds them all


def _page(ctx: Ctx, **values: object) -> HTMLResponse:
    recent = jobs.jobs_of(ctx.services, member=ctx.signed_in, limit=20)
    return ctx.render("imports/imports.html", jobs=recent, kinds=sorted(jobs.KINDS), **values)


@router.get("")
def imports_page(ctx: Manufacturer) -> HTMLResponse:
    return _page(ctx)


@router.post("")
async def upload(request: Request, ctx: Manufacturer, _: Csrf) -> Response:
    async with request.form(max_part_size=MAX_FILE_BYTES + 1) as form:
        upload = form.get("file")
        kind = str(form.get("kind") or "")
        if not isinstance(upload, UploadFile) or not upload.filename:
            problem = PortalFailure("file_missing", "choose a file to import")
            return await run_in_threadpool(_page, ctx, problem=problem)
        data = await upload.read(MAX_FILE_BYTES + 1)
        name = upload.filename
    return await run_in_threadpool(_create, ctx, kind, name, data)


def _create(ctx: Ctx, kind: str, name: str, data: bytes) -> Response:
    try:
        job = jobs.create_job(
            ctx.services, member=ctx.signed_in, kind=kind, filename=name, data=data
        )
    except ApiError as exc:
        return _page(ctx, problem=PortalFailure(exc.code, str(exc.detail)), status_code=422)
    if job.state == "ready":
        jobs.start_job(ctx.services, member=ctx.signed_in, job_id=job.id)
    return RedirectResponse(f"/portal/imports/{job.id}", status_code=303)


def _job_or_404(ctx: Ctx, job_id: str) -> jobs.ImportJob | HTMLResponse:
    try:
        return jobs.view_job(ctx.services, member=ctx.signed_in, job_id=job_id)
    except ApiError:
        missing = PortalFailure("import_not_found", f"no import job {job_id[:64]}")
        return ctx.render("error.html", problem=missing, status_code=404)


@router.get("/templates/{name}")
def template(ctx: Manufacturer, name: str, lang: str = "zh") -> Response:
    """The header row of a kind of import, as a CSV (Chinese headings, or `lang=en`)."""
    data = template_csv(name.removesuffix(".csv"), chinese=lang != "en")
    if data is None or not name.endswith(".csv"):
        missing = PortalFailure("import_unknown_kind", f"no template {name[:40]!r}")
        return ctx.render("error.html", problem=missing, status_code=404)
    filename = f"import-{name.removesuffix('.csv')}-template.csv"
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/{job_id}")
def job_page(ctx: Manufacturer, job_id: str) -> HTMLResponse:
    """The job's page; htmx polls the same URL for the progress fragment alone."""
    job = _job_or_404(ctx, job_id)
    if isinstance(job, HTMLResponse):
        return job
    problem = job.problem or {"code": "job_interrupted", "detail": ""}
    stopped = PortalFailure(problem["code"], problem["detail"])
    if ctx.request.headers.get("hx-request") == "true":
        return ctx.render("imports/progress.html", job=job, stopped=stopped)
    errors = jobs.job_errors(ctx.services, member=ctx.signed_in, job_id=job.id, limit=ERRORS_SHOWN)
    return ctx.render(
        "imports/job.html", job=job, stopped=stopped, errors=errors, shown=ERRORS_SHOWN
    )


@router.get("/{job_id}/errors.{fmt}")
def errors_download(ctx: Manufacturer, job_id: str, fmt: str) -> Response:
    job = _job_or_404(ctx, job_id)
    if isinstance(job, HTMLResponse) or fmt not in ("csv", "xlsx"):
        missing = PortalFailure("import_not_found", f"no error file {job_id[:64]}.{fmt[:8]}")
        return ctx.render("error.html", problem=missing, status_code=404)
    rows = jobs.job_errors(ctx.services, member=ctx.signed_in, job_id=job.id, limit=None)
    media = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    )
    return Response(
        error_file(rows, "csv" if fmt == "csv" else "xlsx"),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="import-{job.id}-errors.{fmt}"'},
    )


@router.post("/{job_id}/resume")
def resume(ctx: Manufacturer, job_id: str, _: Csrf) -> Response:
    try:
        job = jobs.resume_job(ctx.services, member=ctx.signed_in, job_id=job_id)
    except ApiError as exc:
        status = 404 if exc.code == "import_not_found" else 409
        failure = PortalFailure(exc.code, str(exc.detail))
        return ctx.render("error.html", problem=failure, status_code=status)
    return RedirectResponse(f"/portal/imports/{job.id}", status_code=303)
