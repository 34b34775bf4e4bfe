"""Packing units (or cases) into a case or pallet under the member's company prefix, and
unpacking a case or pallet the member holds (every holder: a hospital opens the cases it
receives). Writes call the same use cases as the JSON API (`domain.items`)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response

from medledger.domain import items
from medledger.domain.partner_schemas import ContainerIn, PackIn, hexs
from medledger.indexer.queries.devices import company_prefixes
from medledger.portal.context import Csrf, Ctx, role_ctx
from medledger.portal.errors import ACTION_ERRORS as FAILURES
from medledger.portal.errors import FormError
from medledger.portal.forms import codes, need, whole
from medledger.portal.nav import NavItem, _l, register
from medledger.sdk import gs1
from medledger.sdk.model import Role
from medledger.web.deps import ConnDep

__all__ = ["router"]

router = APIRouter(prefix="/portal/packing", include_in_schema=False)
PACKERS = frozenset({Role.MANUFACTURER, Role.DISTRIBUTOR, Role.LOGISTICS, Role.HOSPITAL})
Packer = Annotated[Ctx, role_ctx(*PACKERS)]
register(NavItem("/portal/packing", _l("Packing"), PACKERS, 30))


def _packing_page(ctx: Ctx, conn: ConnDep, **values: object) -> HTMLResponse:
    prefixes = company_prefixes(conn, ctx.signed_in.address)
    return ctx.render("packing.html", prefixes=prefixes, **values)


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
