"""Packing units (or cases) into a case or pallet under the member's company prefix, and
unpacking a case or pallet the member holds (every holder: a hospital opens the cases it
receives). Loose units of a lot-tracked lot are packed into cases of one of its product's
registered package levels (serials typed, scanned or numbered in sequence), and a case is
opened by scanning its code. Writes call the same use cases as the JSON API (`domain.items`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response

from medledger.domain import items, lot_custody
from medledger.domain.lot_schemas import CasesIn, PackCasesIn
from medledger.domain.partner_schemas import MAX_BATCH, ContainerIn, PackIn, hexs
from medledger.indexer.queries.devices import company_prefixes, package_levels
from medledger.indexer.queries.loose_lots import loose_lots
from medledger.portal.context import Csrf, Ctx, role_ctx
from medledger.portal.errors import ACTION_ERRORS as FAILURES
from medledger.portal.errors import FormError
from medledger.portal.forms import codes, need, serials_of, whole
from medledger.portal.nav import NavItem, _l, register
from medledger.sdk import gs1
from medledger.sdk.model import Role
from medledger.web.deps import ConnDep

__all__ = ["router"]

router = APIRouter(prefix="/portal/packing", include_in_schema=False)
PACKERS = frozenset({Role.MANUFACTURER, Role.DISTRIBUTOR, Role.LOGISTICS, Role.HOSPITAL})
Packer = Annotated[Ctx, role_ctx(*PACKERS)]
register(NavItem("/portal/packing", _l("Packing"), PACKERS, 30))


CASE_DEFAULTS = {"case_first": "1", "case_count": "1", "case_width": "4"}


@dataclass(frozen=True, slots=True)
class CaseSource:
    """A package level and a lot of its unit product the member holds loose units of."""

    package_gtin: str
    per_case: int
    lot: str
    available: int

    @property
    def value(self) -> str:
        return f"{self.package_gtin}/{self.lot}"  # a GTIN is 14 digits: split at the first /


def case_sources(conn: ConnDep, holder: str) -> list[CaseSource]:
    return [
        CaseSource(level.package_gtin, level.base_quantity, lot.lot_number, lot.active)
        for lot in loose_lots(conn, holder)
        if lot.active
        for level in package_levels(conn, base_gtin=lot.gtin)
    ]


def _packing_page(ctx: Ctx, conn: ConnDep, **values: object) -> HTMLResponse:
    prefixes = company_prefixes(conn, ctx.signed_in.address)
    sources = case_sources(conn, ctx.signed_in.address)
    options = [
        (
            s.value,
            ctx._("%(gtin)s (%(n)s units) · lot %(lot)s · %(available)s loose")
            % {
                "gtin": s.package_gtin,
                "n": ctx.fmt.number(s.per_case),
                "lot": s.lot,
                "available": ctx.fmt.number(s.available),
            },
        )
        for s in sources
    ]
    given = values.get("values")
    if isinstance(given, dict):
        values["values"] = CASE_DEFAULTS | given
    return ctx.render("packing.html", prefixes=prefixes, case_options=options, **values)


def _case_serials(package_gtin: str, typed: dict[str, str]) -> list[str]:
    """The serials typed or scanned (one per line), else a range like the unit
    commissioning page's: prefix, first number, how many, digits (blank: 1, 1, 4)."""
    if typed.get("case_serials", "").strip():
        return serials_of("case_serials", typed["case_serials"], gtin=package_gtin)
    given = CASE_DEFAULTS | {k: v for k, v in typed.items() if v.strip()}
    start = whole("case_first", given["case_first"], low=0, high=10**12)
    total = whole("case_count", given["case_count"], low=1, high=MAX_BATCH)
    digits = whole("case_width", given["case_width"], low=1, high=12)
    prefix = typed.get("case_prefix", "").strip()
    return [f"{prefix}{n:0{digits}d}" for n in range(start, start + total)]


@router.post("/cases")
def pack_cases(
    ctx: Packer,
    conn: ConnDep,
    _: Csrf,
    case_source: Annotated[str, Form()] = "",
    case_serials: Annotated[str, Form()] = "",
    case_prefix: Annotated[str, Form()] = "",
    case_first: Annotated[str, Form()] = "",
    case_count: Annotated[str, Form()] = "",
    case_width: Annotated[str, Form()] = "",
) -> Response:
    """Pack loose units of a lot into cases of one of its product's package levels."""
    typed = {
        "case_source": case_source,
        "case_serials": case_serials,
        "case_prefix": case_prefix,
        "case_first": case_first,
        "case_count": case_count,
        "case_width": case_width,
    }
    try:
        package_gtin, _slash, lot = need("case_source", case_source).partition("/")
        serials = _case_serials(package_gtin, typed)
        body = PackCasesIn.model_validate(
            {"package_gtin": package_gtin, "lot": lot, "serials": serials}
        )
        packed = lot_custody.pack_cases(ctx.services, member=ctx.signed_in, body=body)
    except FAILURES as exc:
        return _packing_page(ctx, conn, values=typed, problem=exc)
    notice = ctx._("Packed %(count)s cases of %(gtin)s, lot %(lot)s.") % {
        "count": ctx.fmt.number(len(serials)),
        "gtin": package_gtin,
        "lot": lot,
    }
    codes_ = [f"(01){package_gtin}(10){lot}(21){serial}" for serial in serials]
    return _packing_page(
        ctx,
        conn,
        values={"extension": "0"},
        notice=notice,
        case_codes=codes_,
        index_pending=not packed.indexed,
    )


@router.get("")
def packing_form(ctx: Packer, conn: ConnDep) -> HTMLResponse:
    return _packing_page(ctx, conn, values={"extension": "0"})


@router.post("")
def pack(
    ctx: Packer,
    conn: ConnDep,
    _: Csrf,
    company_prefix: Annotated[str, Form()] = "",
    extension: Annotated[str, Form()] = "0",
    serial_reference: Annotated[str, Form()] = "",
    contents: Annotated[str, Form()] = "",
) -> Response:
    typed = {
        "company_prefix": company_prefix,
        "extension": extension,
        "serial_reference": serial_reference,
        "contents": contents,
    }
    try:
        packed = codes("contents", contents)
        sscc = gs1.make_sscc(
            extension=whole("extension", extension, low=0, high=9),
            company_prefix=need("company_prefix", company_prefix),
            serial_reference=whole("serial_reference", serial_reference, low=0, high=10**10),
        )
        created = items.create_container(
            ctx.services,
            member=ctx.signed_in,
            container=ContainerIn(sscc=sscc, company_prefix=company_prefix),
        )
        assert created.container_id is not None
        body = PackIn.model_validate({"item_ids": [hexs(u.item_id) for u in packed]})
        filled = items.pack(
            ctx.services, member=ctx.signed_in, container_id=created.container_id, items=body
        )
    except FAILURES as exc:
        return _packing_page(ctx, conn, values=typed, problem=exc)
    notice = ctx._("Packed %(count)s items into SSCC %(sscc)s.") % {
        "count": len(packed),
        "sscc": sscc,
    }
    return _packing_page(
        ctx,
        conn,
        values={"extension": "0"},
        notice=notice,
        packed_sscc=sscc,
        index_pending=not filled.indexed,
    )


@router.post("/unpack")
def unpack(ctx: Packer, conn: ConnDep, _: Csrf, container: Annotated[str, Form()] = "") -> Response:
    """Open a case or pallet you hold: its contents become loose items in your stock."""
    try:
        typed = container.strip()
        # A bare 18-digit SSCC (as printed under the barcode) is read as AI (00).
        (udi,) = codes("container", f"(00){typed}" if re.fullmatch(r"\d{18}", typed) else typed)[:1]
        if not udi.is_container and package_levels(conn, package_gtin=udi.gtin):
            return _unpack_case(ctx, conn, udi, container)
        if not udi.is_container:
            raise FormError(
                "ItemsNotContainer", f"{container!r} is not an SSCC", {"container": "SSCC"}
            )
        opened = items.unpack(ctx.services, member=ctx.signed_in, container_id=hexs(udi.item_id))
    except FAILURES as exc:
        return _packing_page(
            ctx, conn, values={"extension": "0", "container": container}, problem=exc
        )
    count = len(opened.item_ids or [])
    notice = ctx._("Unpacked %(count)s items from SSCC %(sscc)s.") % {
        "count": count,
        "sscc": udi.sscc,
    }
    return _packing_page(
        ctx, conn, values={"extension": "0"}, notice=notice, index_pending=not opened.indexed
    )


def _unpack_case(ctx: Ctx, conn: ConnDep, udi: gs1.Udi, typed: str) -> Response:
    """Open a case (its code: package GTIN and serial): its units return to the loose
    balance of its lot."""
    try:
        body = CasesIn.model_validate({"case_ids": [hexs(udi.item_id)]})
        opened = lot_custody.unpack_cases(ctx.services, member=ctx.signed_in, body=body)
    except FAILURES as exc:
        return _packing_page(ctx, conn, values={"extension": "0", "container": typed}, problem=exc)
    notice = ctx._("Opened the case %(code)s: its units are loose stock again.") % {
        "code": typed.strip()
    }
    return _packing_page(
        ctx, conn, values={"extension": "0"}, notice=notice, index_pending=not opened.indexed
    )
