"""Partners: the organisations of the consortium, their roles and licences. The regulator
attests licences and suspends or reinstates members (signed with its key,
`domain.regulator`); everyone reads the members with their licences from the read model.

The inputs' limits are declared once here (`MemberAddress`, `LicenceNumber`, …) for the
API's request models and the portal's forms alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from eth_utils import to_checksum_address
from pydantic import Field
from sqlalchemy import Connection

from medledger.domain import records
from medledger.domain.errors import NotConfigured
from medledger.domain.regulator import Written, regulator_ledger, settled_order
from medledger.domain.services import Services
from medledger.indexer.queries.network import MemberView, members_with_licences
from medledger.sdk.model import LicenceKind, Role, class_mask

__all__ = [
    "CompanyPrefix",
    "MemberName",
    "MemberRoleName",
    "admit_member",
    "assign_prefix",
    "DeviceClasses",
    "LicenceKindName",
    "LicenceNumber",
    "LicenceScope",
    "LicenceText",
    "LicenceValidUntil",
    "MemberAddress",
    "attest_licence",
    "members",
    "reinstate_member",
    "suspend_member",
]

MemberAddress = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]
LicenceKindName = Literal["production", "distribution", "practice", "logistics"]
LicenceNumber = Annotated[
    str,
    Field(min_length=1, max_length=64, description="public registration data, in clear on-chain"),
]
LicenceText = Annotated[str, Field(max_length=200)]
ScopeCode = Annotated[str, Field(pattern=r"^[0-9]{2}(-[0-9]{2}){0,3}$", max_length=16)]
LicenceScope = Annotated[list[ScopeCode], Field(max_length=64)]
DeviceClasses = Annotated[list[Literal[1, 2, 3]], Field(min_length=1, max_length=3)]
LicenceValidUntil = Annotated[int, Field(ge=1, le=2**63 - 1, description="unix seconds")]
MemberRoleName = Literal["manufacturer", "distributor", "logistics", "hospital"]
MemberName = Annotated[str, Field(min_length=1, max_length=200)]
CompanyPrefix = Annotated[str, Field(pattern=r"^[0-9]{6,12}$")]


def members(conn: Connection) -> list[MemberView]:
    """Every member with its licences, for the regulator's members page."""
    return members_with_licences(conn)


def attest_licence(
    services: Services,
    *,
    member: str,
    kind: LicenceKind,
    number: str,
    device_classes: Sequence[int],
    valid_until: int,
    authority: str = "",
    scope: Sequence[str] = (),
    warehouse_address: str = "",
    province: str = "",
) -> Written:
    """Attest (or renew) a member's licence of one kind, with its public registration data
    in clear: number, issuing authority, business scope (classification codes), warehouse
    address and province."""
    return settled_order(
        services,
        regulator_ledger(services).attest_licence(
            to_checksum_address(member),
            kind=int(kind),
            number=number,
            class_mask=class_mask(*sorted(set(device_classes))),
            valid_until=valid_until,
            authority=authority,
            scope=sorted(set(scope)),
            warehouse_address=warehouse_address,
            province=province,
        ),
    )


def suspend_member(services: Services, *, member: str, reason: str = "") -> Written:
    """Suspend a member: the node refuses its transactions from the next block. A reason
    is sealed as a SUSPENSION record for the member and the regulator; the chain carries
    only its salted commitment (never a hash of the text, which could be guessed)."""
    ledger = regulator_ledger(services)
    account = to_checksum_address(member)
    if not reason:
        return settled_order(services, ledger.suspend(account))
    try:
        record = records.seal(
            services,
            kind=records.RecordKind.SUSPENSION,
            author=ledger.address,
            readers=[account],
            subject_id=bytes.fromhex(account[2:]).rjust(32, b"\0"),
            body={"member": account, "reason": reason},
        )
    except NotConfigured:
        # A regulator node without the records store's master key: the reason stays off
        # chain (the chain used to get its unsalted, guessable hash).
        return settled_order(services, ledger.suspend(account))
    written = settled_order(services, ledger.suspend(account, reason_hash=record.commitment))
    records.set_anchor(services, record.id, written.tx_hash)
    return written


def reinstate_member(services: Services, *, member: str) -> Written:
    return settled_order(
        services, regulator_ledger(services).reinstate(to_checksum_address(member))
    )


def admit_member(services: Services, *, member: str, role: MemberRoleName, name: str) -> Written:
    """Admit an organisation as a member with one role (a regulator admits every role but
    Regulator, which only the bootstrap admin admits)."""
    return settled_order(
        services,
        regulator_ledger(services).admit(to_checksum_address(member), Role[role.upper()], name),
    )


def assign_prefix(services: Services, *, member: str, prefix: str) -> Written:
    """Record that a member owns a GS1 company prefix (6-12 digits, overlapping no other)."""
    return settled_order(
        services,
        regulator_ledger(services).assign_company_prefix(to_checksum_address(member), prefix),
    )
