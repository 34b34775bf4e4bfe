"""Routes: regulator mode (`medledger api --regulator`) — the members list and alerts feed
read from the regulator's own indexer, and the regulator's writes: issue and close
recalls, attest licences, suspend and reinstate members.

Writes are signed with the regulator's key: an eth-account keystore
(`settings.regulator_keystore`, default `data_dir/regulator-keystore.json`, unlocked with
`settings.regulator_key_password`), or an account placed in
`services.extras["regulator.account"]` (tests). They go to `settings.submit_rpc_url`
(the sequencer) when set, since the regulator's follower refuses writes. In partner mode
every route here answers 404.

What members do off-chain on the partner side (public verification scans, recall
acknowledgements) reaches this deployment through the partner API's oversight feed, pulled
in the background while the app runs (`settings.oversight_feed_url`, `api.oversight_pull`)
and shown by `/v1/regulator/scans`, the alerts and the recall acknowledgements.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from fastapi import APIRouter, FastAPI, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from web3 import HTTPProvider, Web3

from domain.alerts import alerts_feed
from domain.chain import reader
from domain.errors import ApiError
from domain.oversight import RegulatorOnly
from domain.oversight_feed import scanner_address
from domain.oversight_pull import start_pulling
from domain.scan_rules import scan_policy
from domain.services import Services
from indexer.db import Sql
from sdk.gs1 import lot_key, validate_gtin
from sdk.ledger import Ledger, TxResult
from sdk.model import LicenceKind, MemberStatus, Role, class_mask
from web.deps import ConnDep, PageDep, ServicesDep

__all__ = ["recall_on_ledger", "regulator_account", "regulator_ledger", "router"]

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


class NotConfigured(ApiError):
    status = 503
    title = "Not configured"


def regulator_account(services: Services) -> LocalAccount:
    """The regulator's key (NotConfigured, a 503, without one)."""
    given = services.extras.get("regulator.account")
    if given is not None:
        assert isinstance(given, LocalAccount)
        return given
    settings = services.settings
    path = settings.regulator_keystore or settings.data_dir / "regulator-keystore.json"
    if not path.exists() or settings.regulator_key_password is None:
        raise NotConfigured(
            "regulator_key_missing",
            f"put the regulator's keystore at {path} and set "
            "MEDLEDGER_API_REGULATOR_KEY_PASSWORD_FILE (a 0600 file) to sign regulator orders",
        )
    key = Account.decrypt(
        json.loads(path.read_text()), settings.regulator_key_password.get_secret_value()
    )
    account: LocalAccount = Account.from_key(key)
    return account


def regulator_ledger(services: Services) -> Ledger:
    """The regulator's signing handle, built once per process."""
    ledger = services.extras.get("regulator.ledger")
    if ledger is None:
        url = services.settings.submit_rpc_url
        w3 = Web3(HTTPProvider(url)) if url else services.w3
        account = regulator_account(services)
        ledger = Ledger(w3, services.deployment, account, artifacts=services.artifacts)
        services.extras["regulator.ledger"] = ledger
    assert isinstance(ledger, Ledger)
    return ledger


def recall_on_ledger(services: Services, recall_id: int) -> bool:
    """Whether the chain holds recall `recall_id` (ids count up from 1; an id never issued
    reads as an empty record). The node we read is asked first; failing that, the node
    regulator orders are written to, since a follower may be a block behind it and a
    recall issued a moment ago must not look unknown."""
    if reader(services).recall(recall_id)["lot_index"] != 0:
        return True
    if services.settings.submit_rpc_url is None:
        return False
    try:
        return bool(regulator_ledger(services).recall(recall_id)["lot_index"] != 0)
    except NotConfigured:  # no regulator key: this portal issued no recall
        return False
    except requests.ConnectionError:  # the sequencer is unreachable: cannot rule it out
        return True


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TxOut(BaseModel):
    tx_hash: str
    block_number: int


def _tx(result: TxResult[Any]) -> TxOut:
    receipt = result.receipt
    return TxOut(
        tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
        block_number=int(receipt["blockNumber"]),
    )


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
    sql = Sql(conn)
    total = int(sql.one("SELECT COUNT(*) FROM organisations WHERE role <> ?", (0,)))
    rows = sql.rows(
        "SELECT address, name, role, status, admitted_block FROM organisations "
        "WHERE role <> ? ORDER BY id LIMIT ? OFFSET ?",
        (0, page.limit, page.offset),
    )
    return MembersOut(
        members=[
            MemberOut(
                address=str(a),
                name=str(n),
                role=Role(int(r)).name.lower(),
                status=MemberStatus(int(s)).name.lower(),
                admitted_block=int(b),
            )
            for a, n, r, s, b in rows
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
    settings = services.settings
    found = alerts_feed(
        conn,
        since=since,
        policy=scan_policy(settings),
        adverse_event_threshold=settings.adverse_event_rate_threshold,
    )
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
    sql = Sql(conn)
    total = int(sql.one("SELECT COUNT(*) FROM verification_scans WHERE scanned_at >= ?", (since,)))
    rows = sql.rows(
        "SELECT item_key, scanned_at, location, scanner FROM verification_scans "
        "WHERE scanned_at >= ? ORDER BY scanned_at DESC, id DESC LIMIT ? OFFSET ?",
        (since, page.limit, page.offset),
    )
    return ScansOut(
        scans=[
            ScanOut(
                item_id="0x" + bytes(k).hex(),
                scanned_at=int(t),
                location=str(loc),
                by_member=s is not None,
                scanner=scanner_address(s),
            )
            for k, t, loc, s in rows
        ],
        next_cursor=page.next_cursor(total),
    )


# ------------------------------------------------------------------ writes


class RecallIn(Strict):
    gtin: str = Field(pattern=r"^[0-9]{8,14}$")
    lot: str = Field(min_length=1, max_length=20)
    level: int = Field(ge=1, le=3, description="1 (most serious) .. 3")
    reason: str = Field(min_length=1, max_length=4000, description="hashed on-chain")


class RecallOut(TxOut):
    recall_id: int


@router.post("/recalls", response_model=RecallOut, status_code=201)
def issue_recall(body: RecallIn, services: ServicesDep) -> RecallOut:
    """Order the recall of a lot; the reason text is anchored by its keccak hash."""
    key = lot_key(validate_gtin(body.gtin), body.lot)
    result = regulator_ledger(services).recall_lot(
        key, level=body.level, reason_hash=keccak(text=body.reason)
    )
    return RecallOut(recall_id=result.value, **_tx(result).model_dump())


class CloseIn(Strict):
    outcome: str = Field(default="", max_length=4000, description="hashed on-chain")


@router.post("/recalls/{recall_id}/close", response_model=TxOut)
def close_recall(
    recall_id: Annotated[int, Path(ge=1, le=2**32 - 1)], body: CloseIn, services: ServicesDep
) -> TxOut:
    outcome = keccak(text=body.outcome) if body.outcome else bytes(32)
    return _tx(regulator_ledger(services).close_recall(recall_id, outcome_hash=outcome))


class LicenceIn(Strict):
    member: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    kind: Literal["production", "distribution", "practice", "logistics"]
    number: str = Field(min_length=1, max_length=200, description="hashed on-chain")
    device_classes: list[Literal[1, 2, 3]] = Field(min_length=1, max_length=3)
    valid_until: int = Field(ge=1, le=2**63 - 1, description="unix seconds")


@router.post("/licences", response_model=TxOut)
def attest_licence(body: LicenceIn, services: ServicesDep) -> TxOut:
    """Attest (or renew) a member's licence of one kind."""
    return _tx(
        regulator_ledger(services).attest_licence(
            to_checksum_address(body.member),
            kind=int(LicenceKind[body.kind.upper()]),
            number_hash=keccak(text=body.number),
            class_mask=class_mask(*sorted(set(body.device_classes))),
            valid_until=body.valid_until,
        )
    )


class SuspendIn(Strict):
    reason: str = Field(default="", max_length=4000, description="hashed on-chain")


@router.post("/members/{address}/suspend", response_model=TxOut)
def suspend_member(address: Address, body: SuspendIn, services: ServicesDep) -> TxOut:
    """Suspend a member: the node refuses its transactions from the next block."""
    reason = keccak(text=body.reason) if body.reason else bytes(32)
    return _tx(regulator_ledger(services).suspend(to_checksum_address(address), reason_hash=reason))


@router.post("/members/{address}/reinstate", response_model=TxOut)
def reinstate_member(address: Address, services: ServicesDep) -> TxOut:
    return _tx(regulator_ledger(services).reinstate(to_checksum_address(address)))
