"""Case and logistic label sheets. A case label (package level packed with `packCases`)
carries the case's own code, (01) package GTIN (10) lot (17) expiry (21) serial, with the
base product's name and how many units the case holds; a logistic label carries a pallet's
or carton's SSCC as GS1-128 with the shipper, the consignee when it is in transit, and a
summary of its contents. Exactly the labels asked for, or none and the reason. Unit label
sheets are `portal.routes.manufacturer`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from medledger.domain.labels import Unlabellable, case_labels, logistic_label
from medledger.domain.master_data import current_record
from medledger.indexer.queries.devices import LotRow, lots_of, package_levels
from medledger.indexer.queries.labels import ContainerLabelRow
from medledger.portal import label_text, labels, logistic_labels
from medledger.portal.context import Ctx, role_ctx
from medledger.portal.errors import FormError, PortalFailure
from medledger.portal.forms import read_code
from medledger.portal.nav import NavItem, _l, register
from medledger.sdk.model import Role
from medledger.web.deps import ConnDep

__all__ = ["pdf_response", "png_response", "router"]

router = APIRouter(prefix="/portal/labels", include_in_schema=False)
Manufacturer = Annotated[Ctx, role_ctx(Role.MANUFACTURER)]
Holder = Annotated[Ctx, role_ctx(Role.MANUFACTURER, Role.DISTRIBUTOR)]
register(
    NavItem("/portal/labels/cases", _l("Case labels"), frozenset({Role.MANUFACTURER}), 41),
    NavItem(
        "/portal/labels/logistic",
        _l("Logistic labels"),
        frozenset({Role.MANUFACTURER, Role.DISTRIBUTOR}),
        42,
    ),
)


def _package_options(conn: ConnDep, lots: list[LotRow]) -> list[tuple[str, str]]:
    options: dict[str, str] = {}
    for gtin in sorted({lot.gtin for lot in lots}):
        for level in package_levels(conn, base_gtin=gtin):
            options[level.package_gtin] = f"{level.package_gtin} · {level.base_quantity} × {gtin}"
    return list(options.items())


def _case_labels(
    ctx: Ctx, conn: ConnDep, lot_key: str, package_gtin: str, serials: str
) -> list[labels.Label]:
    lot = label_text.own_lot(ctx, conn, lot_key)
    if not any(p.package_gtin == package_gtin for p in package_levels(conn, base_gtin=lot.gtin)):
        fields, params = {"package_gtin": "?"}, {"gtin": package_gtin or "—"}
        raise FormError("labels_not_a_package", f"{package_gtin!r}", fields, params)
    asked = label_text.asked_codes(lot, package_gtin, serials)
    cases, refused = case_labels(conn, lot, asked, now=label_text.now())
    if (problem := label_text.refusal(ctx, lot, refused, cases_of=package_gtin)) is not None:
        raise problem
    record = current_record(ctx.services, lot.gtin)
    return [
        labels.Label(c.udi, label_text.product_text(ctx, record, lot=lot, contains=c.quantity))
        for c in cases
    ]


@router.get("/cases")
def cases_page(
    ctx: Manufacturer,
    conn: ConnDep,
    lot_key: str = "",
    package_gtin: str = "",
    serials: str = "",
) -> HTMLResponse:
    values = {"lot_key": lot_key, "package_gtin": package_gtin, "serials": serials}
    lots = lots_of(conn, ctx.signed_in.address)
    shown = {"lots": lots, "packages": _package_options(conn, lots), "values": values}
    if not lot_key:
        return ctx.render("labels/cases.html", sheet=None, **shown)
    try:
        made = _case_labels(ctx, conn, lot_key, package_gtin, serials)
    except FormError as exc:
        return ctx.render("labels/cases.html", sheet=None, problem=exc, **shown)
    pages = range(1, -(-len(made) // labels.PER_PAGE) + 1)
    return ctx.render(
        "labels/cases.html",
        sheet=urlencode(values),
        count=len(made),
        pages=pages,
        preview=labels.preview(made[0]),
        **shown,
    )


@router.get("/cases/sheet.{kind}")
def case_sheet(
    ctx: Manufacturer,
    conn: ConnDep,
    kind: Literal["png", "pdf"],
    lot_key: str = "",
    package_gtin: str = "",
    serials: str = "",
    page: int = 1,
) -> Response:
    try:
        cases = _case_labels(ctx, conn, lot_key, package_gtin, serials)
    except FormError as exc:
        return ctx.render("error.html", problem=exc)
    base = ctx.services.settings.public_base_url
    if kind == "png":
        return png_response(ctx, lambda: labels.png(cases, base_url=base, page=page))
    return pdf_response(labels.pdf(cases, base_url=base))


# ------------------------------------------------------------------ logistic units


def _contents(ctx: Ctx, row: ContainerLabelRow) -> str:
    parts = []
    if row.units:
        parts.append(ctx._("%(count)s units") % {"count": ctx.fmt.number(row.units)})
    if row.cases:
        counts = {
            "count": ctx.fmt.number(row.cases),
            "units": ctx.fmt.number(row.base_units_in_cases),
        }
        parts.append(ctx._("%(count)s cases (%(units)s units)") % counts)
    return " · ".join(parts) or ctx._("Empty")


def _logistic_labels(ctx: Ctx, conn: ConnDep, ssccs: str) -> list[logistic_labels.LogisticLabel]:
    lines = [line.strip() for line in ssccs.splitlines() if line.strip()]
    if not lines:
        raise FormError("empty", "no SSCC", {"ssccs": "?"})
    if (over := label_text.too_many(len(lines), "ssccs")) is not None:
        raise over
    out: list[logistic_labels.LogisticLabel] = []
    for number, line in enumerate(lines, start=1):
        code = read_code("ssccs", line, line=number)
        sscc = code.sscc or ""
        found = logistic_label(conn, member_address=ctx.signed_in.address, sscc=sscc)
        if isinstance(found, Unlabellable):
            raise FormError(f"labels_{found}", found, {"ssccs": "?"}, {"sscc": sscc or line})
        sections = [(ctx._("From"), found.holder_name)]
        if found.consignee_name is not None:
            sections.append((ctx._("To"), found.consignee_name))
        sections.append((ctx._("Contents"), _contents(ctx, found)))
        if found.lots:
            sections.append((ctx._("Lots"), ", ".join(found.lots)))
        out.append(logistic_labels.LogisticLabel(sscc, tuple(sections)))
    return out


@router.get("/logistic")
def logistic_page(ctx: Holder, conn: ConnDep, ssccs: str = "") -> HTMLResponse:
    values = {"ssccs": ssccs}
    if not ssccs:
        return ctx.render("labels/logistic.html", values=values, sheet=None)
    try:
        made = _logistic_labels(ctx, conn, ssccs)
    except FormError as exc:
        return ctx.render("labels/logistic.html", values=values, sheet=None, problem=exc)
    pages = range(1, -(-len(made) // logistic_labels.PER_PAGE) + 1)
    return ctx.render(
        "labels/logistic.html",
        values=values,
        sheet=urlencode(values),
        count=len(made),
        pages=pages,
        first=made[0],
        grouped=logistic_labels.grouped,
    )


@router.get("/logistic/sheet.{kind}")
def logistic_sheet(
    ctx: Holder, conn: ConnDep, kind: Literal["png", "pdf"], ssccs: str = "", page: int = 1
) -> Response:
    try:
        found = _logistic_labels(ctx, conn, ssccs)
    except FormError as exc:
        return ctx.render("error.html", problem=exc)
    if kind == "png":
        return png_response(ctx, lambda: logistic_labels.png(found, page=page))
    return pdf_response(logistic_labels.pdf(found))


def png_response(ctx: Ctx, render: Callable[[], bytes]) -> Response:
    try:
        return Response(render(), media_type="image/png")
    except ValueError as exc:
        missing = PortalFailure("not_found", str(exc))
        return ctx.render("error.html", problem=missing, status_code=404)


def pdf_response(document: bytes) -> Response:
    return Response(
        document,
        media_type="application/pdf",
        headers={"Content-Disposition": 'inline; filename="labels.pdf"'},
    )
