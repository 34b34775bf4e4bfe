"""Members' GLNs and sites (GS1 Global Location Numbers): the primary GLN the regulator
sets for a member and the sites (warehouse, plant, pharmacy) each member registers and
retires itself. Public business data, so on chain (`Partners.setPrimaryGln`,
`registerSite`, `retireSite`); read back from the read model (`indexer.queries.sites`).

The EPCIS export names a site as an SGLN (`urn:epc:id:sgln:<company prefix>.<location
reference>.0`): `sgln` splits the GLN after the owner's GS1 company prefix when the GLN
sits under one, else after DEFAULT_PREFIX_LENGTH digits.
"""

from __future__ import annotations

from typing import Annotated

from eth_utils import to_checksum_address
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from medledger.domain.api_examples import SITE_EXAMPLE
from medledger.domain.auth import Member
from medledger.domain.devices import member_ledger
from medledger.domain.errors import Unprocessable
from medledger.domain.orders import report
from medledger.domain.partner_schemas import OperationOut
from medledger.domain.read_your_writes import settled
from medledger.domain.regulator import Written, regulator_ledger, settled_order
from medledger.domain.services import Services
from medledger.indexer.queries.devices import company_prefixes
from medledger.indexer.queries.sites import SiteRow, gln_owner, sites_of
from medledger.sdk.errors import Gs1Error
from medledger.sdk.gs1 import check_digit, validate_gln

__all__ = [
    "DEFAULT_PREFIX_LENGTH",
    "Gln",
    "SiteIn",
    "list_sites",
    "parse_sgln",
    "register_site",
    "retire_site",
    "set_primary_gln",
    "sgln",
]

DEFAULT_PREFIX_LENGTH = 7  # GS1 China's company prefixes are mostly 7 digits (690-699)
MAX_TEXT = 200


def _gln(value: str) -> str:
    try:
        return validate_gln(value)
    except Gs1Error as exc:
        raise ValueError(str(exc)) from exc


Gln = Annotated[
    str,
    Field(
        min_length=13, max_length=13, description="GS1 GLN, 13 digits", examples=["9506000000018"]
    ),
    AfterValidator(_gln),
]


def _bytes(value: str) -> str:
    if len(value.encode()) > MAX_TEXT:
        raise ValueError(f"at most {MAX_TEXT} bytes of UTF-8 (a Chinese character takes 3)")
    return value


SiteText = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(_bytes)]


class SiteIn(BaseModel):
    """A site to register: its GLN, name (Chinese), English name and address."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [SITE_EXAMPLE]})
    gln: Gln
    name: Annotated[SiteText, Field(min_length=1)]
    name_en: SiteText = ""
    address: SiteText = ""


def list_sites(conn: Connection, address: str, *, include_retired: bool = False) -> list[SiteRow]:
    return sites_of(conn, address, include_retired=include_retired)


def _trader(member: Member) -> None:
    if member.is_regulator:
        raise Unprocessable("sites_traders_only", "a regulator registers no sites")


def register_site(services: Services, *, member: Member, site: SiteIn) -> OperationOut:
    """Register (or register again) one of the member's sites: 409 `PartnersGlnTaken` if
    the GLN is another member's or already a registered site."""
    _trader(member)
    result = member_ledger(services, member).register_site(
        site.gln, name=site.name, name_en=site.name_en, address=site.address
    )
    return settled(services, report(result, signed_by="custodial"))


def retire_site(services: Services, *, member: Member, gln: str) -> OperationOut:
    """Retire one of the member's sites (409 `PartnersNoSite` if it is not one)."""
    _trader(member)
    result = member_ledger(services, member).retire_site(_gln(gln))
    return settled(services, report(result, signed_by="custodial"))


def set_primary_gln(services: Services, *, member: str, gln: str) -> Written:
    """The regulator sets a member's primary GLN."""
    ledger = regulator_ledger(services)
    return settled_order(services, ledger.set_primary_gln(to_checksum_address(member), gln))


def sgln(conn: Connection, gln: str, *, owner: str | None = None) -> str:
    """`urn:epc:id:sgln:<company prefix>.<location reference>.0` for `gln` (TDS 6.3.4),
    split after the owner's company prefix (`owner`, else the GLN's owner on chain)."""
    if owner is None:
        found = gln_owner(conn, gln)
        owner = found[0] if found else None
    length = DEFAULT_PREFIX_LENGTH
    for prefix in company_prefixes(conn, owner) if owner else []:
        if gln.startswith(prefix):
            length = len(prefix)
            break
    return f"urn:epc:id:sgln:{gln[:length]}.{gln[length:12]}.0"


def parse_sgln(uri: str) -> str:
    """The GLN of an SGLN URN (`urn:epc:id:sgln:<prefix>.<reference>.<extension>`; the
    extension, GS1 AI 254, names a place inside the location and is not kept) or of a GS1
    Digital Link location URI (`.../414/<gln>`); ValueError naming the URI otherwise."""
    if uri.startswith("urn:epc:id:sgln:"):
        parts = uri.removeprefix("urn:epc:id:sgln:").split(".", 2)
        if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts[:2]):
            raise ValueError(f"SGLN {uri!r} is not prefix.reference.extension")
        body = parts[0] + parts[1]
        if len(body) != 12 or not 6 <= len(parts[0]) <= 12:
            raise ValueError(f"SGLN {uri!r} needs 12 key digits")
        return body + str(check_digit(body))
    if uri.startswith(("http://", "https://")) and "/414/" in uri:
        gln = uri.rsplit("/414/", 1)[1].split("/", 1)[0].split("?", 1)[0]
        try:
            return validate_gln(gln)
        except Gs1Error as exc:
            raise ValueError(f"location {uri!r}: {exc}") from exc
    raise ValueError(f"location {uri!r} is neither an SGLN URN nor a Digital Link /414/ URI")
