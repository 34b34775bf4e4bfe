"""Manufacturer pages: products and lots (with registration certificates), commissioning
of serial ranges as a background job with a progress bar, commissioning a quantity of a
lot-tracked product's lot, and label sheets. Every write
calls the same use case as the JSON API (`domain.devices`, `domain.items`), so the ledger
rules and errors are the API's. Packing is `portal.routes.packing`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal
from urllib.parse import urlencode

from eth_utils import keccak
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from medledger.domain import devices, items, lot_custody
from medledger.domain.labels import label_refusals
from medledger.domain.lot_schemas import CommissionLotIn
from medledger.domain.master_data import current_record
from medledger.domain.partner_schemas import CommissionIn, LotIn, ProductIn, hexs
from medledger.indexer.queries.devices import company_prefixes, lots_of, products_of
from medledger.portal import label_text, labels
from medledger.portal.context import Csrf, Ctx, role_ctx
from medledger.portal.errors import ACTION_ERRORS as FAILURES
from medledger.portal.errors import FormError, PortalFailure
from medledger.portal.forms import (
    date_ts,
    need,
    tenths,
    whole,
)
from medledger.portal.jobs import find_job, start_job
from medledger.portal.nav import NavItem, _l, register
from medledger.portal.pending import pending_param
from medledger.portal.routes.documents import (
    REGISTRATION_CERTIFICATE,
    Recorded,
    attach_after,
    check_sizes,
    documents_about,
    form_fields,
)
from medledger.portal.routes.labels import pdf_response, png_response
from medledger.sdk.model import Role
from medledger.web.deps import ConnDep

__all__ = ["router"]

router = APIRouter(prefix="/portal/manufacturer", include_in_schema=False)
Manufacturer = Annotated[Ctx, role_ctx(Role.MANUFACTURER)]
M = frozenset({Role.MANUFACTURER})
register(
    NavItem("/portal/manufacturer", _l("Products and lots"), M, 10),
    NavItem("/portal/manufacturer/commission", _l("Commissioning"), M, 20),
    NavItem("/portal/manufacturer/labels", _l("Labels"), M, 40),
)
BATCH = 100  # serials per commissioning transaction in a bulk job
MAX_COMMISSION = 100_000
MAX_LABELS = label_text.MAX_LABELS


def _catalogue(ctx: Ctx, conn: ConnDep, **values: object) -> HTMLResponse:
    address = ctx.signed_in.address
    products = products_of(conn, address)
    found = documents_about(ctx, {product_subject(p.gtin) for p in products})
    return ctx.render(
        "manufacturer/catalogue.html",
        products=products,
        certificates={p.gtin: found.get(product_subject(p.gtin), []) for p in products},
        lots=lots_of(conn, address),
        prefixes=company_prefixes(conn, address),
        **values,
    )


@router.get("")
def catalogue(ctx: Manufacturer, conn: ConnDep, done: str = "", pending: str = "") -> HTMLResponse:
    notice = ctx._("Saved on the ledger.") if done else None
    return _catalogue(ctx, conn, values={}, notice=notice, index_pending=bool(done and pending))


@router.post("/products")
async def register_product(request: Request, ctx: Manufacturer, conn: ConnDep, _: Csrf) -> Response:
    async with request.form() as form:  # closes the uploaded certificate afterwards
        typed, files = form_fields(form)
        return await run_in_threadpool(_register_product, ctx, conn, typed, files)


def _register_product(
    ctx: Ctx, conn: ConnDep, typed: dict[str, str], files: list[UploadFile]
) -> Response:
    """Register the product (its certificate number hashed on chain) and keep a scan of
    the certificate, if attached, encrypted for the manufacturer and the regulator."""
    field = typed.get
    try:
        gtin = field("gtin", "").strip()
        certificate = need("certificate", field("certificate", ""))
        body = ProductIn.model_validate(
            {
                "gtin": gtin,
                "company_prefix": field("company_prefix", "").strip(),
                "device_class": whole("device_class", field("device_class", ""), low=1, high=3),
                "certificate_hash": hexs(keccak(text=certificate)),
                "registration_expiry": date_ts(
                    "registration_expiry", field("registration_expiry", ""), end_of_day=True
                ),
                "temp_min": tenths("temp_min", field("temp_min", "")),
                "temp_max": tenths("temp_max", field("temp_max", "")),
            }
        )
        check_sizes(files)
        registered = devices.register_product(ctx.services, member=ctx.signed_in, product=body)
    except FAILURES as exc:
        return _catalogue(ctx, conn, values=typed, problem=exc)
    next_url = f"/portal/manufacturer?{pending_param(registered)}done=product"
    summary = ctx._("Product %(gtin)s is registered on the ledger.") % {"gtin": gtin}
    not_stored = attach_after(
        ctx,
        files,
        Recorded([summary], registered.tx_hash, next_url),
        subject=product_subject(gtin),
        kind=REGISTRATION_CERTIFICATE,
        counterparty=None,
    )
    return not_stored or RedirectResponse(next_url, status_code=303)


def product_subject(gtin: str) -> bytes:
    """The documents' subject for a product: keccak256 of its Digital Link path."""
    return keccak(text=f"/01/{gtin}")


@router.post("/lots")
def register_lot(
    ctx: Manufacturer,
    conn: ConnDep,
    _: Csrf,
    lot_gtin: Annotated[str, Form()] = "",
    lot: Annotated[str, Form()] = "",
    production_date: Annotated[str, Form()] = "",
    expiry: Annotated[str, Form()] = "",
    qc_release: Annotated[str, Form()] = "",
) -> Response:
    typed = {
        "lot_gtin": lot_gtin,
        "lot": lot,
        "production_date": production_date,
        "expiry": expiry,
        "qc_release": qc_release,
    }
    try:
        body = LotIn.model_validate(
            {
                "gtin": need("lot_gtin", lot_gtin),
                "lot": need("lot", lot),
                "production_date": date_ts("production_date", production_date),
                "expiry": date_ts("expiry", expiry, end_of_day=True),
                "qc_release": qc_release.strip() or None,  # sealed; its commitment on chain
            }
        )
        registered = devices.register_lot(ctx.services, member=ctx.signed_in, lot=body)
    except FAILURES as exc:
        return _catalogue(ctx, conn, values=typed, problem=exc)
    return RedirectResponse(
        f"/portal/manufacturer?{pending_param(registered)}done=lot", status_code=303
    )


# ------------------------------------------------------------------ commissioning


def _commission_page(ctx: Ctx, conn: ConnDep, **values: object) -> HTMLResponse:
    lots = [lot for lot in lots_of(conn, ctx.signed_in.address) if not lot.recalled]
    return ctx.render("manufacturer/commission.html", lots=lots, **values)


@router.get("/commission")
def commission_form(ctx: Manufacturer, conn: ConnDep) -> HTMLResponse:
    return _commission_page(ctx, conn, values={"first": "1", "count": "10", "width": "6"})


@router.post("/commission")
def commission(
    ctx: Manufacturer,
    conn: ConnDep,
    _: Csrf,
    lot_key: Annotated[str, Form()] = "",
    prefix: Annotated[str, Form()] = "",
    first: Annotated[str, Form()] = "",
    count: Annotated[str, Form()] = "",
    width: Annotated[str, Form()] = "",
) -> Response:
    typed = {"lot_key": lot_key, "prefix": prefix, "first": first, "count": count, "width": width}
    try:
        start = whole("first", first, low=0, high=10**12)
        total = whole("count", count, low=1, high=MAX_COMMISSION)
        digits = whole("width", width, low=1, high=12)
        serials = [f"{prefix.strip()}{n:0{digits}d}" for n in range(start, start + total)]
        # Check the lot key and the serials' form before starting the job.
        CommissionIn.model_validate({"lot_key": lot_key, "serials": serials[:1]})
    except FAILURES as exc:
        return _commission_page(ctx, conn, values=typed, problem=exc)
    member, services = ctx.signed_in, ctx.services

    def work(batch: Sequence[str]) -> None:
        body = CommissionIn.model_validate({"lot_key": lot_key, "serials": list(batch)})
        items.commission(services, member=member, units=body)

    job = start_job(
        services,
        owner=member.address,
        title=f"{prefix}{start:0{digits}d} … ({total})",
        items=serials,
        batch_size=BATCH,
        work=work,
    )
    return RedirectResponse(f"/portal/manufacturer/jobs/{job.id}", status_code=303)


@router.post("/commission-lot")
def commission_lot(
    ctx: Manufacturer,
    conn: ConnDep,
    _: Csrf,
    quantity_lot: Annotated[str, Form()] = "",
    quantity: Annotated[str, Form()] = "",
) -> Response:
    """Commission a quantity of a lot-tracked product's lot (a serialised product is
    refused by the ledger: its units are commissioned by serial above)."""
    typed = {"quantity_lot": quantity_lot, "quantity": quantity}
    typed |= {"first": "1", "count": "10", "width": "6"}
    try:
        body = CommissionLotIn.model_validate(
            {
                "lot_key": quantity_lot,
                "quantity": whole("quantity", quantity, low=1, high=2**32 - 1),
            }
        )
        done = lot_custody.commission_lot(ctx.services, member=ctx.signed_in, body=body)
    except FAILURES as exc:
        return _commission_page(ctx, conn, values=typed, problem=exc)
    notice = ctx._("%(n)s units of the lot commissioned.") % {"n": ctx.fmt.number(body.quantity)}
    return _commission_page(
        ctx,
        conn,
        values={"first": "1", "count": "10", "width": "6"},
        notice=notice,
        index_pending=not done.indexed,
    )


@router.get("/jobs/{job_id}")
def job_page(ctx: Manufacturer, job_id: str) -> HTMLResponse:
    """The job's page; htmx polls the same URL for the progress fragment alone."""
    job = find_job(ctx.services, job_id, owner=ctx.signed_in.address)
    if job is None:
        missing = PortalFailure("not_found", f"no job {job_id}")
        return ctx.render("error.html", problem=missing, status_code=404)
    fragment = ctx.request.headers.get("hx-request") == "true"
    return ctx.render(
        "manufacturer/job_progress.html" if fragment else "manufacturer/job.html", job=job
    )


# ------------------------------------------------------------------ labels


def _label_units(ctx: Ctx, conn: ConnDep, lot_key: str, serials: str) -> list[labels.Label]:
    """The units to label, exactly as asked, with their product text, or a FormError
    saying why none are made."""
    lot = label_text.own_lot(ctx, conn, lot_key)
    units = label_text.asked_codes(lot, lot.gtin, serials)
    refused = label_refusals(conn, lot, units, now=label_text.now())
    if (problem := label_text.refusal(ctx, lot, refused)) is not None:
        raise problem
    text = label_text.product_text(ctx, current_record(ctx.services, lot.gtin), lot=lot)
    return [labels.Label(unit, text) for unit in units]


@router.get("/labels")
def labels_page(
    ctx: Manufacturer, conn: ConnDep, lot_key: str = "", serials: str = ""
) -> HTMLResponse:
    values = {"lot_key": lot_key, "serials": serials}
    lots = lots_of(conn, ctx.signed_in.address)
    if not lot_key:
        return ctx.render("manufacturer/labels.html", lots=lots, values=values, sheet=None)
    try:
        units = _label_units(ctx, conn, lot_key, serials)
    except FormError as exc:
        return ctx.render(
            "manufacturer/labels.html", lots=lots, values=values, sheet=None, problem=exc
        )
    count = len(units)
    sheet = urlencode({"lot_key": lot_key, "serials": serials})
    preview = labels.preview(units[0])
    return ctx.render(
        "manufacturer/labels.html",
        lots=lots,
        values=values,
        sheet=sheet,
        count=count,
        pages=range(1, -(-count // labels.PER_PAGE) + 1),
        preview=preview,
    )


@router.get("/labels/sheet.{kind}")
def label_sheet(
    ctx: Manufacturer,
    conn: ConnDep,
    kind: Literal["png", "pdf"],
    lot_key: str = "",
    serials: str = "",
    page: int = 1,
) -> Response:
    """The printable sheet: PNG (page `page`, from 1) or PDF (every page)."""
    try:
        units = _label_units(ctx, conn, lot_key, serials)
    except FormError as exc:
        return ctx.render("error.html", problem=exc)
    base = ctx.services.settings.public_base_url
    if kind == "png":
        return png_response(ctx, lambda: labels.png(units, base_url=base, page=page))
    return pdf_response(labels.pdf(units, base_url=base))
