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

import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from medledger.domain import partners, recall_actions, sites
from medledger.domain.api_examples import ADDRESS, DISTRIBUTOR, GLN, ITEM_ID, TX_HASH, example
from medledger.domain.errors import NotConfigured
from medledger.domain.network import network_alerts
from medledger.domain.oversight_feed import scanner_address
from medledger.domain.oversight_pull import start_pulling
from medledger.domain.partner_schemas import PartyOut, at_time, party
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
from medledger.indexer.queries.counterparties import names_of
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
    model_config = example({"tx_hash": TX_HASH, "block_number": 412})

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
    model_config = example(
        {
            "members": [
                {
                    "address": ADDRESS,
                    "name": DISTRIBUTOR["name"],
                    "role": "distributor",
                    "status": "active",
                    "admitted_block": 4,
                }
            ],
            "next_cursor": None,
        }
    )

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
    observed_at: dt.datetime = Field(description="ISO 8601, the consortium's zone")
    detail: str
    item_id: str | None
    gtin: str | None
    lot: str | None
    shipment_id: int | None
    organisation: PartyOut | None
    rate: float | None


class AlertsOut(BaseModel):
    model_config = example(
        {
            "alerts": [
                {
                    "kind": "cold_chain_excursion",
                    "observed_at": "2026-12-05T10:42:17+08:00",
                    "detail": "shipment 17 received after 600 s outside 2-8 °C",
                    "item_id": None,
                    "gtin": None,
                    "lot": None,
                    "shipment_id": 17,
                    "organisation": DISTRIBUTOR,
                    "rate": None,
                }
            ],
            "next_cursor": None,
        }
    )

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
    names = names_of(conn, {a.organisation for a in window if a.organisation is not None})
    return AlertsOut(
        alerts=[
            AlertOut(
                kind=a.kind,
                observed_at=at_time(a.observed_at),
                detail=a.detail,
                item_id=None if a.item_id is None else "0x" + a.item_id.hex(),
                gtin=a.gtin,
                lot=a.lot,
                shipment_id=a.shipment_id,
                organisation=None
                if a.organisation is None
                else party(a.organisation, names.get(a.organisation)),
                rate=a.rate,
            )
            for a in window
        ],
        next_cursor=page.next_cursor(len(found)),
    )


class ScanOut(BaseModel):
    item_id: str
    scanned_at: dt.datetime = Field(description="ISO 8601, the consortium's zone")
    location: str
    by_member: bool = Field(description="scanned with a member's API key (else anonymous)")
    scanner: PartyOut | None = Field(description="that member, when known")


class ScansOut(BaseModel):
    model_config = example(
        {
            "scans": [
                {
                    "item_id": ITEM_ID,
                    "scanned_at": "2026-12-05T11:02:40+08:00",
                    "location": "CN-31",
                    "by_member": True,
                    "scanner": DISTRIBUTOR,
                }
            ],
            "next_cursor": None,
        }
    )

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
    rows = scan_rows(conn, since=since, limit=page.limit, offset=page.offset)
    scanners = [scanner_address(scan.scanner) for scan in rows]
    names = names_of(conn, {a for a in scanners if a is not None})
    return ScansOut(
        scans=[
            ScanOut(
                item_id="0x" + scan.item_key.hex(),
                scanned_at=at_time(scan.scanned_at),
                location=scan.location,
                by_member=scan.scanner is not None,
                scanner=None if who is None else party(who, names.get(who)),
            )
            for scan, who in zip(rows, scanners, strict=True)
        ],
        next_cursor=page.next_cursor(total),
    )


# ------------------------------------------------------------------ writes


class RecallIn(Strict):
    model_config = example(
        {
            "gtin": "09506000134352",
            "lot": "L2026-07",
            "level": 2,
            "reason": "sterility breach in lot L2026-07",
            "action": "stop use, quarantine and return",
            "scope": "all units of the lot",
            "serials": [],
            "contact": "recall@example.cn",
        }
    )

    gtin: Gtin
    lot: LotNumber
    level: RecallLevel
    reason: RecallReason
    action: RecallAction = ""
    scope: RecallScopeText = ""
    serials: RecallSerials = []
    contact: RecallContact = ""


class RecallOut(TxOut):
    model_config = example({"tx_hash": TX_HASH, "block_number": 412, "recall_id": 3})

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
    model_config = example(
        {"outcome": "all units returned and destroyed", "confirm_outstanding": False}
    )

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
    model_config = example(
        {
            "member": ADDRESS,
            "kind": "distribution",
            "number": "沪食药监械经营许20260042号",
            "device_classes": [2, 3],
            "valid_until": 1956441599,
            "authority": "上海市药品监督管理局",
            "scope": [],
            "warehouse_address": "",
            "province": "31",
        }
    )

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
    model_config = example({"reason": "licence lapsed"})

    reason: OrderReason = ""


@router.post("/members/{address}/suspend", response_model=TxOut)
def suspend_member(address: Address, body: SuspendIn, services: ServicesDep) -> TxOut:
    """Suspend a member: the node refuses its transactions from the next block."""
    return _tx(partners.suspend_member(services, member=address, reason=body.reason))


@router.post("/members/{address}/reinstate", response_model=TxOut)
def reinstate_member(address: Address, services: ServicesDep) -> TxOut:
    return _tx(partners.reinstate_member(services, member=address))


class AdmitIn(Strict):
    model_config = example({"member": ADDRESS, "role": "distributor", "name": DISTRIBUTOR["name"]})

    member: MemberAddress
    role: MemberRoleName
    name: MemberName


@router.post("/members", response_model=TxOut)
def admit_member(body: AdmitIn, services: ServicesDep) -> TxOut:
    """Admit an organisation with one role (409 `PartnersAlreadyMember` if it is one)."""
    return _tx(partners.admit_member(services, member=body.member, role=body.role, name=body.name))


class PrefixIn(Strict):
    model_config = example({"prefix": "6901234"})

    prefix: CompanyPrefix


@router.post("/members/{address}/prefixes", response_model=TxOut)
def assign_prefix(address: Address, body: PrefixIn, services: ServicesDep) -> TxOut:
    """Assign a GS1 company prefix (409 `PartnersPrefixTaken` / `PartnersPrefixOverlaps`)."""
    return _tx(partners.assign_prefix(services, member=address, prefix=body.prefix))


class PrimaryGlnIn(Strict):
    model_config = example({"gln": GLN})

    gln: Gln


@router.put("/members/{address}/gln", response_model=TxOut)
def set_primary_gln(address: Address, body: PrimaryGlnIn, services: ServicesDep) -> TxOut:
    """Set a member's primary GLN (409 `PartnersGlnTaken` if another member owns it)."""
    return _tx(sites.set_primary_gln(services, member=address, gln=body.gln))
