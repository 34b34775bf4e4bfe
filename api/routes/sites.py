"""Sites of the signed-in member, the HTTP face of `domain.sites`: `GET /v1/partner/sites`
(its primary GLN and registered sites), `POST /v1/partner/sites` (register one, signed
with the member's custodial key), `POST /v1/partner/sites/{gln}/retire`. The regulator
sets a member's primary GLN with `PUT /v1/regulator/members/{address}/gln`. A member sees
only its own sites; the regulator any member's (`?member=`)."""

from __future__ import annotations

from typing import Annotated

from eth_utils import to_checksum_address
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from medledger.domain import sites
from medledger.domain.api_examples import SITES_EXAMPLE, example
from medledger.domain.errors import NotFound
from medledger.domain.partner_schemas import PROBLEMS, OperationOut
from medledger.domain.sites import SiteIn
from medledger.web.deps import ConnDep, ServicesDep
from medledger.web.members import CurrentMember

__all__ = ["router"]

router = APIRouter(prefix="/v1/partner", tags=["partner"], responses=PROBLEMS)

Address = Annotated[str, Query(pattern=r"^0x[0-9a-fA-F]{40}$", description="a member (regulator)")]


class SiteOut(BaseModel):
    gln: str
    sgln: str
    name: str
    name_en: str
    address: str
    active: bool
    primary: bool
    block_number: int


class SitesOut(BaseModel):
    model_config = example(SITES_EXAMPLE)

    member: str
    primary_gln: str | None
    sites: list[SiteOut]


@router.get("/sites", response_model=SitesOut)
def list_sites(
    member: CurrentMember,
    conn: ConnDep,
    of: Annotated[str | None, Address] = None,
    retired: Annotated[bool, Query(description="include retired sites")] = False,
) -> SitesOut:
    """The member's primary GLN and sites (a regulator may name any member with `of`)."""
    address = member.address
    if of is not None and of.lower() != member.address.lower():
        if not member.is_regulator:
            raise NotFound("not_found", "no such member among those you may see")
        address = to_checksum_address(of)
    rows = sites.list_sites(conn, address, include_retired=retired)
    primary = next((r.gln for r in rows if r.is_primary), None)
    return SitesOut(
        member=address,
        primary_gln=primary,
        sites=[
            SiteOut(
                gln=r.gln,
                sgln=sites.sgln(conn, r.gln, owner=address),
                name=r.name,
                name_en=r.name_en,
                address=r.address,
                active=r.active,
                primary=r.is_primary,
                block_number=r.block_number,
            )
            for r in rows
        ],
    )


@router.post("/sites", response_model=OperationOut, status_code=201)
def register_site(body: SiteIn, member: CurrentMember, services: ServicesDep) -> OperationOut:
    """Register one of your sites (409 `PartnersGlnTaken` if the GLN is taken)."""
    return sites.register_site(services, member=member, site=body)


@router.post("/sites/{gln}/retire", response_model=OperationOut)
def retire_site(
    gln: Annotated[str, Path(pattern=r"^[0-9]{13}$")], member: CurrentMember, services: ServicesDep
) -> OperationOut:
    """Retire one of your sites (409 `PartnersNoSite` if it is not one of yours)."""
    return sites.retire_site(services, member=member, gln=gln)
