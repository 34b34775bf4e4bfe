"""Product master data pages: a manufacturer imports a CSV, XLSX or UDID XML file (a
background job with a progress bar, then the per-row report of what was refused and why)
and exports its records; anyone reads a product's public page (names, model, registration
number, class, packaging, storage, every anchored version). The use cases are
`domain.master_import` and `domain.master_data`, the same as the API's and the CLI's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from medledger.domain import master_import
from medledger.domain.errors import ApiError
from medledger.domain.master_data import current_record_uncached, product_master
from medledger.domain.master_files import FORMATS, FileError, FileRow
from medledger.domain.master_import import ImportReport
from medledger.indexer.queries.devices import products_of
from medledger.portal.context import Csrf, Ctx, PageCtx, role_ctx
from medledger.portal.errors import PortalFailure
from medledger.portal.jobs import find_job, start_job
from medledger.portal.nav import NavItem, _l, register
from medledger.sdk.model import Role
from medledger.web.deps import ConnDep

__all__ = ["IMPORT_PATH", "MAX_FILE_BYTES", "router"]

router = APIRouter(prefix="/portal", include_in_schema=False)
Manufacturer = Annotated[Ctx, role_ctx(Role.MANUFACTURER)]
register(
    NavItem(
        "/portal/manufacturer/master-data", _l("Master data"), frozenset({Role.MANUFACTURER}), 15
    )
)
IMPORT_PATH = "/portal/manufacturer/master-data/import"
MAX_FILE_BYTES = 8 * 2**20
MEDIA = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "udid": ("application/xml", "xml"),
}


def _page(ctx: Ctx, conn: ConnDep, **values: object) -> HTMLResponse:
    products = products_of(conn, ctx.signed_in.address)
    names = {p.gtin: current_record_uncached(ctx.services, p.gtin) for p in products}
    return ctx.render("manufacturer/master_data.html", products=products, names=names, **values)


@router.get("/manufacturer/master-data")
def master_data_page(ctx: Manufacturer, conn: ConnDep) -> HTMLResponse:
    return _page(ctx, conn)


@router.post("/manufacturer/master-data/import")
async def import_upload(request: Request, ctx: Manufacturer, conn: ConnDep, _: Csrf) -> Response:
    async with request.form(max_part_size=MAX_FILE_BYTES) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            problem = PortalFailure("file_missing", "choose a file to import")
            return await run_in_threadpool(_page, ctx, conn, problem=problem)
        data = await upload.read()
        name = upload.filename
    return await run_in_threadpool(_start_import, ctx, conn, name, data)


def _start_import(ctx: Ctx, conn: ConnDep, name: str, data: bytes) -> Response:
    try:
        rows = master_import.read_file(name, data)
    except FileError as exc:
        reason = exc.reason_zh if ctx.lang.code.startswith("zh") else exc.reason_en
        return _page(ctx, conn, problem=PortalFailure("file_unreadable", reason))
    member, services = ctx.signed_in, ctx.services
    report = ImportReport()
    seen: dict[str, int] = {}
    holder: list[str] = []

    def work(batch: Sequence[FileRow]) -> None:
        for row in batch:
            report.rows.append(
                master_import.import_one(services, member=member, row=row, seen=seen)
            )
        if len(report.rows) == len(rows):
            master_import.save_report(services, holder[0], owner=member.address, report=report)

    job = start_job(services, owner=member.address, title=name, items=rows, batch_size=1, work=work)
    holder.append(job.id)
    return RedirectResponse(f"/portal/manufacturer/master-data/jobs/{job.id}", status_code=303)


@router.get("/manufacturer/master-data/jobs/{job_id}")
def import_job(ctx: Manufacturer, job_id: str) -> HTMLResponse:
    """The import's page; htmx polls it for the progress fragment until it is done."""
    job = find_job(ctx.services, job_id, owner=ctx.signed_in.address)
    if job is None:
        missing = PortalFailure("not_found", f"no job {job_id}")
        return ctx.render("error.html", problem=missing, status_code=404)
    report = master_import.load_report(ctx.services, job_id, owner=ctx.signed_in.address)
    fragment = ctx.request.headers.get("hx-request") == "true"
    template = (
        "manufacturer/master_job_progress.html" if fragment else "manufacturer/master_job.html"
    )
    return ctx.render(template, job=job, report=report, counts=_counts(report))


def _counts(report: ImportReport | None) -> dict[str, int]:
    outcomes = ("created", "updated", "unchanged", "refused")
    return {o: report.count(o) if report else 0 for o in outcomes}


@router.get("/manufacturer/master-data/export.{fmt}")
def export(ctx: Manufacturer, fmt: str) -> Response:
    if fmt not in FORMATS:
        missing = PortalFailure("not_found", f"no export format {fmt}")
        return ctx.render("error.html", problem=missing, status_code=404)
    data = master_import.export_file(ctx.services, member=ctx.signed_in, fmt=fmt)
    media, suffix = MEDIA[fmt]
    return Response(
        data,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="master-data.{suffix}"'},
    )


@router.get("/products/{gtin}")
def product_page(ctx: PageCtx, gtin: str) -> HTMLResponse:
    """A product's public master data, for anyone (it is what China's UDID publishes)."""
    if not (len(gtin) == 14 and gtin.isascii() and gtin.isdigit()):
        bad = PortalFailure("not_found", f"no product {gtin[:20]}")
        return ctx.render("error.html", problem=bad, status_code=404)
    try:
        view = product_master(ctx.services, gtin)
    except ApiError as exc:
        return ctx.render(
            "error.html", problem=PortalFailure(exc.code, exc.detail), status_code=404
        )
    return ctx.render("product.html", product=view)
