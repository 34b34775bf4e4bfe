"""Routes: regulator mode (`medledger api --regulator`) — the members list and alerts feed
read from the regulator's own indexer, and the regulator's writes: issue and close
recalls (`domain.recalls`), attest licences, suspend and reinstate members
(`domain.regulator`, which also says how the regulator's key is found). In partner mode
every route here answers 404.

What members do off-chain on the partner side (public verification scans, recall
acknowledgements) reaches this deployment through the partner API's oversight feed, pulled
in the background while the app runs (`settings.oversight_feed_url`, `api.oversight_pull`)
and shown by `/v1/regulator/scans`, the alerts and the recall acknowledgements.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from medledger.domain import partners, recall_actions, sites
from medledger.domain.errors import NotConfigured
from medledger.domain.network import network_alerts
from medledger.domain.oversight_feed import scanner_address
from medledger.domain.oversight_pull import start_pulling
from medledger.domain.partners import (
    CompanyPrefix,
    DeviceClasses,
    LicenceKindName,
    LicenceNumber,
    LicenceScope,
    LicenceText,
    LicenceValidUntil,
    MemberAddress,
    MemberName,
    MemberRoleName,
)
from medledger.domain.recall_actions import NoticeIn
from medledger.domain.recalls import (
    Gtin,
    LotNumber,
    RecallAction,
    RecallContact,
    RecallLevel,
    RecallOutcome,
    RecallReason,
    RecallScopeText,
    RecallSerials,
)
from medledger.domain.regulator import OrderReason, Written, regulator_account
from medledger.domain.services import Services
from medledger.domain.sites import Gln
from medledger.indexer.queries.network import member_count, member_rows, scan_count, scan_rows
from medledger.sdk.model import LicenceKind
from medledger.web.deps import ConnDep, PageDep, ServicesDep
from medledger.web.oversight import RegulatorOnly

__all__ = ["router"]

log = logging.getLogger(__name__)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """In regulator mode with a feed URL: pull the partner API's oversight feed."""
    services = getattr(app.state, "services", None)
    pulling = None
    if (
        isinstance(services, Services)
        and services.settings.regulator
        and services.settings.oversight_feed_url is not None
    ):
        try:
            pulling = start_pulling(services, regulator_account(services))
        except NotConfigured as exc:  # no key to sign in to the partner API with
            log.warning("not pulling the oversight feed: %s", exc)
    try:
        yield
    finally:
        if pulling is not None:
            pulling.close()


router = APIRouter(
    prefix="/v1/regulator", tags=["regulator"], dependencies=[RegulatorOnly], lifespan=_lifespan
)

Address = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="member address")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TxOut(BaseModel):
    tx_hash: str
    block_number: int


def _tx(written: Written) -> TxOut:
    return TxOut(tx_hash=written.tx_hash, block_number=written.block_number)


# ------------------------------------------------------------------ reads


class MemberOut(BaseModel):
    address: str
    name: str
    role: str
    status: str
    admitted_block: int


class MembersOut(BaseModel):
    members: list[MemberOut]
    next_cursor: str | None


@router.get("/members", response_model=MembersOut)
def members(conn: ConnDep, page: PageDep) -> MembersOut:
    """Every organisation the ledger admitted, in admission order."""
    total = member_count(conn)
    return MembersOut(
        members=[
            MemberOut(
                address=m.address,
                name=m.name,
                role=m.role.name.lower(),
                status=m.status.name.lower(),
                admitted_block=m.admitted_block,
            )
            for m in member_rows(conn, limit=page.limit, offset=page.offset)
        ],
        next_cursor=page.next_cursor(total),
    )


class AlertOut(BaseModel):
    kind: str
    observed_at: int
    detail: str
    item_id: str | None
    gtin: str | None
    lot: str | None
    shipment_id: int | None
    organisation: str | None
    rate: float | None


class AlertsOut(BaseModel):
    alerts: list[AlertOut]
    next_cursor: str | None


@router.get("/alerts", response_model=AlertsOut)
def alerts(
    services: ServicesDep,
    conn: ConnDep,
    page: PageDep,
    since: Annotated[int, Query(ge=0, le=2**62, description="unix seconds")] = 0,
) -> AlertsOut:
    """Scan anomalies, cold-chain excursions and adverse-event rates above the threshold,
    newest first."""
    found = network_alerts(conn, services.settings, since=since)
    window = found[page.offset : page.offset + page.limit]
    return AlertsOut(
        alerts=[
            AlertOut(
                kind=a.kind,
                observed_at=a.observed_at,
                detail=a.detail,
                item_id=None if a.item_id is None else "0x" + a.item_id.hex(),
                gtin=a.gtin,
                lot=a.lot,
                shipment_id=a.shipment_id,
                organisation=a.organisation,
                rate=a.rate,
            )
            for a in window
        ],
        next_cursor=page.next_cursor(len(found)),
    )


class ScanOut(BaseModel):
    item_id: str
    scanned_at: int
    location: str
    by_member: bool = Field(description="scanned with a member's API key (else anonymous)")
    scanner: str | None = Field(description="that member's address, when known")


class ScansOut(BaseModel):
    scans: list[ScanOut]
    next_cursor: str | None


@router.get("/scans", response_model=ScansOut)
def scans(
    conn: ConnDep,
    page: PageDep,
    since: Annotated[int, Query(ge=0, le=2**62, description="unix seconds")] = 0,
) -> ScansOut:
    """Public verification scans made on the partner side (pulled from its oversight
    feed), newest first: unit, time, coarse place and the scanning member; no IPs."""
    total = scan_count(conn, since=since)
    return ScansOut(
        scans=[
            ScanOut(
                item_id="0x" + scan.item_key.hex(),
                scanned_at=scan.scanned_at,
                location=scan.location,
                by_member=scan.scanner is not None,
                scanner=scanner_address(scan.scanner),
            )
            for scan in scan_rows(conn, since=since, limit=page.limit, offset=page.offset)
        ],
        next_cursor=page.next_cursor(total),
    )


# ------------------------------------------------------------------ writes


class RecallIn(Strict):
    gtin: Gtin
    lot: LotNumber
    level: RecallLevel
    reason: RecallReason
    action: RecallAction = ""
    scope: RecallScopeText = ""
    serials: RecallSerials = []
    contact: RecallContact = ""


class RecallOut(TxOut):
    recall_id: int


@router.post("/recalls", response_model=RecallOut, status_code=201)
def issue_recall(body: RecallIn, services: ServicesDep) -> RecallOut:
    """Order the recall of a lot. The notice (reason, action, scope, contact) is sealed for
    the manufacturer, the regulator and the holders in scope; only its salted commitment
    goes on chain (the recall's reasonHash)."""
    notice = NoticeIn(
        reason=body.reason,
        action=body.action,
        scope=body.scope,
        serials=body.serials,
        contact=body.contact,
    )
    issued = recall_actions.issue(
        services, by=None, gtin=body.gtin, lot=body.lot, level=body.level, notice=notice
    )
    return RecallOut(recall_id=issued.recall_id, **_tx(issued.written).model_dump())


class CloseIn(Strict):
    outcome: RecallOutcome = Field(default="", description="the reason for closing")
    confirm_outstanding: bool = Field(
        default=False,
        description="close although units are outstanding or holders unacknowledged "
        "(needs `outcome`)",
    )


@router.post("/recalls/{recall_id}/close", response_model=TxOut)
def close_recall(
    recall_id: Annotated[int, Path(ge=1, le=2**32 - 1)],
    body: CloseIn,
    services: ServicesDep,
    conn: ConnDep,
) -> TxOut:
    """Close a recall; with units outstanding or holders unacknowledged only with a
    reason and `confirm_outstanding: true` (else 409 `recall_outstanding_unconfirmed`)."""
    written = recall_actions.close(
        services,
        conn,
        by=None,
        recall_id=recall_id,
        reason=body.outcome,
        confirm_outstanding=body.confirm_outstanding,
    )
    return _tx(written)


class LicenceIn(Strict):
    member: MemberAddress
    kind: LicenceKindName
    number: LicenceNumber
    device_classes: DeviceClasses
    valid_until: LicenceValidUntil
    authority: LicenceText = ""
    scope: LicenceScope = []
    warehouse_address: LicenceText = ""
    province: LicenceText = ""


@router.post("/licences", response_model=TxOut)
def attest_licence(body: LicenceIn, services: ServicesDep) -> TxOut:
    """Attest (or renew) a member's licence of one kind."""
    return _tx(
        partners.attest_licence(
            services,
            member=body.member,
            kind=LicenceKind[body.kind.upper()],
            number=body.number,
            device_classes=body.device_classes,
            valid_until=body.valid_until,
            authority=body.authority,
            scope=body.scope,
            warehouse_address=body.warehouse_address,
            province=body.province,
        )
    )


class SuspendIn(Strict):
    reason: OrderReason = ""


@router.post("/members/{address}/suspend", response_model=TxOut)
def suspend_member(address: Address, body: SuspendIn, services: ServicesDep) -> TxOut:
    """Suspend a member: the node refuses its transactions from the next block."""
    return _tx(partners.suspend_member(services, member=address, reason=body.reason))


@router.post("/members/{address}/reinstate", response_model=TxOut)
def reinstate_member(address: Address, services: ServicesDep) -> TxOut:
    return _tx(partners.reinstate_member(services, member=address))


class AdmitIn(Strict):
    member: MemberAddress
    role: MemberRoleName
    name: MemberName


@router.post("/members", response_model=TxOut)
def admit_member(body: AdmitIn, services: ServicesDep) -> TxOut:
    """Admit an organisation with one role (409 `PartnersAlreadyMember` if it is one)."""
    return _tx(partners.admit_member(services, member=body.member, role=body.role, name=body.name))


class PrefixIn(Strict):
    prefix: CompanyPrefix


@router.post("/members/{address}/prefixes", response_model=TxOut)
def assign_prefix(address: Address, body: PrefixIn, services: ServicesDep) -> TxOut:
    """Assign a GS1 company prefix (409 `PartnersPrefixTaken` / `PartnersPrefixOverlaps`)."""
    return _tx(partners.assign_prefix(services, member=address, prefix=body.prefix))


class PrimaryGlnIn(Strict):
    gln: Gln


@router.put("/members/{address}/gln", response_model=TxOut)
def set_primary_gln(address: Address, body: PrimaryGlnIn, services: ServicesDep) -> TxOut:
    """Set a member's primary GLN (409 `PartnersGlnTaken` if another member owns it)."""
    return _tx(sites.set_primary_gln(services, member=address, gln=body.gln))
