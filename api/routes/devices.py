"""Devices: a manufacturer registers its products and their lots for the signed-in member
(the HTTP face of `domain.devices`). A write answers once the read model shows it
(`domain.read_your_writes`). A manufacturer recalls a lot with a readable notice at
`POST /v1/partner/recalls/notice` (`api.routes.recalls`); the older `POST
/v1/partner/recalls`, which took a client-computed reason hash, is retired.

`GET /v1/devices/{gtin}` is public, like the verification it serves: the product's master
data as China's UDI database publishes it (`domain.master_data`), with every anchored
version. The regulator member reads the records through
`GET /v1/partner/oversight/master-records` (`domain.oversight_feed`)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from medledger.domain import devices, master_data
from medledger.domain.errors import Unprocessable
from medledger.domain.master_data import AnchorOutcome, MasterRecord, ProductMasterOut
from medledger.domain.oversight_feed import MAX_MASTER_RECORDS, MasterRecordPage, master_record_page
from medledger.domain.partner_schemas import PROBLEMS, LotIn, OperationOut, ProductIn
from medledger.web.deps import ServicesDep
from medledger.web.members import CurrentMember
from medledger.web.oversight import RegulatorMemberOnly

__all__ = ["router"]

router = APIRouter(responses=PROBLEMS)


@router.post("/v1/partner/products", response_model=OperationOut, status_code=201, tags=["partner"])
def register_product(body: ProductIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    return devices.register_product(services, member=member, product=body)


@router.post("/v1/partner/lots", response_model=OperationOut, status_code=201, tags=["partner"])
def register_lot(body: LotIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    return devices.register_lot(services, member=member, lot=body)


@router.put("/v1/partner/products/{gtin}/master", response_model=AnchorOutcome, tags=["partner"])
def put_master_data(
    gtin: Annotated[str, Path(pattern=r"^\d{14}$")],
    body: MasterRecord,
    member: CurrentMember,
    services: ServicesDep,
) -> AnchorOutcome:
    """Register the product if new, its package levels, and anchor a new master-data version
    when the record changed (the caller must be the manufacturer owning the GTIN's prefix)."""
    if body.gtin != gtin:
        raise Unprocessable("gtin_mismatch", f"the body is for {body.gtin}, the path for {gtin}")
    return master_data.anchor_master_record(services, member=member, record=body)


@router.get("/v1/devices/{gtin}", response_model=ProductMasterOut, tags=["public"])
async def product_master(
    gtin: Annotated[str, Path(pattern=r"^\d{14}$")], services: ServicesDep
) -> ProductMasterOut:
    """A product's public master data (name, model, registration number, class,
    classification code, manufacturer, packaging, storage) and its anchored versions; a
    package GTIN answers its unit product."""
    return await run_in_threadpool(master_data.product_master, services, gtin)


@router.get(
    "/v1/partner/oversight/master-records",
    response_model=MasterRecordPage,
    tags=["oversight"],
    dependencies=[RegulatorMemberOnly],
)
def oversight_master_records(
    services: ServicesDep,
    hashes: Annotated[
        list[str],
        Query(
            alias="hash",
            max_length=MAX_MASTER_RECORDS,
            description="anchored master-data hashes (0x + 64 hex), repeated",
        ),
    ],
) -> MasterRecordPage:
    """The regulator's feed of product master records: those this store holds among the
    anchored hashes asked for (public data; the regulator checks each against its anchor)."""
    wanted: list[bytes] = []
    for h in hashes:
        if re.fullmatch(r"0x[0-9a-f]{64}", h) is None:
            raise Unprocessable("invalid_request", f"{h[:80]!r} is not 0x and 64 hex digits")
        wanted.append(bytes.fromhex(h[2:]))
    return master_record_page(services, wanted)
