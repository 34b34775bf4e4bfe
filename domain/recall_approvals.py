"""Recalls behind the maker-checker (`domain.approvals`): in the portal, issuing and closing
a recall is proposed by one QA user or manager and takes effect only when a different one
of the same organisation approves it on "Awaiting approval"; nothing goes on chain before.

    proposed = propose_issue(services, member=m, proposer=staff, gtin=…, lot=…, level=2,
                             notice=NoticeIn(reason=…, action=…, contact=…))
    approvals.decide(services, proposed.id, member=m, checker=other, approve=True)

The proposal is checked first (the lot exists, is not under recall already, and for a
manufacturer is its own; a close is of an open recall the member may close, with its
reason and confirmation when units are outstanding), so a checker decides on something
the ledger would do; the ledger's rules are checked again when it is approved.

A member's credential on the partner API (an ERP) is one actor, not two people: the JSON
routes call `domain.recall_actions` directly; see the README.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from medledger.domain import approvals, recall_actions
from medledger.domain.approvals import Approval
from medledger.domain.auth import Member, Staff, StaffRole
from medledger.domain.devices import member_ledger
from medledger.domain.errors import Conflict, NotFound, Unprocessable
from medledger.domain.recall_actions import NoticeIn
from medledger.domain.recalls import RecallLevel, RecallProblem, recall_progress
from medledger.domain.regulator import MAX_REASON, regulator_ledger
from medledger.domain.services import Services
from medledger.sdk.errors import ContractError
from medledger.sdk.gs1 import lot_key, validate_gtin
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import Role

__all__ = ["CLOSE", "ISSUE", "CloseProposal", "IssueProposal", "propose_close", "propose_issue"]

ISSUE = "recall_issue"
CLOSE = "recall_close"


class IssueProposal(BaseModel):
    """What a checker approves: the lot, the level and the complete notice."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    gtin: str = Field(max_length=14)
    lot: str = Field(max_length=20)
    level: RecallLevel
    notice: NoticeIn


class CloseProposal(BaseModel):
    """A close as proposed: the reason, the confirmation, and what was outstanding then
    (shown to the checker; the close itself checks again when approved)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    recall_id: int = Field(ge=1, le=2**32 - 1)
    gtin: str = Field(max_length=14)
    lot: str = Field(max_length=20)
    reason: str = Field(default="", max_length=MAX_REASON)
    confirm_outstanding: bool = False
    outstanding: int = Field(default=0, ge=0)
    unacknowledged: list[str] = Field(default_factory=list, max_length=1000)


def _signer(member: Member) -> Member | None:
    """Who signs: the regulator's deployment key for the regulator (as its recall centre
    does), the member's own key otherwise."""
    return None if member.role is Role.REGULATOR else member


def _ledger(services: Services, member: Member) -> Ledger:
    signer = _signer(member)
    return regulator_ledger(services) if signer is None else member_ledger(services, signer)


def propose_issue(
    services: Services,
    *,
    member: Member,
    proposer: Staff,
    gtin: str,
    lot: str,
    level: int,
    notice: NoticeIn,
) -> Approval:
    """Propose recalling lot `lot` of `gtin`; refused now for what the chain would refuse
    (unknown lot, a lot already under recall, another manufacturer's lot)."""
    gtin = validate_gtin(gtin)
    key = lot_key(gtin, lot)
    ledger = _ledger(services, member)
    on_chain = ledger.lot(key)
    if on_chain is None:
        raise ContractError("DevicesUnknownLot", {"lotKey": key})
    if on_chain.active_recall:
        raise ContractError(
            "DevicesLotAlreadyRecalled", {"lotKey": key, "recallId": on_chain.active_recall}
        )
    if member.role is not Role.REGULATOR:
        product = ledger.product(gtin)
        if (
            member.role is not Role.MANUFACTURER
            or product is None
            or (product.manufacturer.lower() != member.address.lower())
        ):
            raise ContractError("DevicesUnauthorized", {"lotKey": key})
    proposal = IssueProposal(gtin=gtin, lot=lot, level=level, notice=notice)
    return approvals.propose(
        services,
        member=member,
        proposer=proposer,
        kind=ISSUE,
        payload=proposal.model_dump(mode="json"),
        summary=f"{gtin} {lot} · {level} · {notice.reason.strip()}"[:500],
    )


def _issue(services: Services, member: Member, payload: Mapping[str, Any]) -> dict[str, Any]:
    p = IssueProposal.model_validate(payload)
    issued = recall_actions.issue(
        services, by=_signer(member), gtin=p.gtin, lot=p.lot, level=p.level, notice=p.notice
    )
    w = issued.written
    return {"recall_id": issued.recall_id, "tx_hash": w.tx_hash,
            "block_number": w.block_number, "indexed": w.indexed}  # fmt: skip


def propose_close(
    services: Services,
    *,
    member: Member,
    proposer: Staff,
    recall_id: int,
    reason: str,
    confirm_outstanding: bool,
) -> Approval:
    """Propose closing recall `recall_id` (the member's own lot's, or any for the
    regulator; 404 otherwise). With units outstanding or holders unacknowledged only with
    a reason and the confirmation (409 `recall_outstanding_unconfirmed`)."""
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise Unprocessable(RecallProblem.REASON_TOO_LONG, f"at most {MAX_REASON} characters")
    with services.engine.connect() as conn:
        progress = recall_progress(services, conn, recall_id)
    _may_close(member, progress.scope.manufacturer.address, recall_id)
    if not progress.scope.open:
        raise Conflict(RecallProblem.CLOSED, f"recall {recall_id} is closed")
    check = recall_actions.close_check(progress)
    if not check.clean and not (confirm_outstanding and reason):
        raise Conflict(
            RecallProblem.OUTSTANDING_UNCONFIRMED,
            f"recall {recall_id} has {check.outstanding} units outstanding and "
            f"{len(check.unacknowledged)} holders unacknowledged: give a reason and confirm",
        )
    proposal = CloseProposal(
        recall_id=recall_id,
        gtin=progress.gtin,
        lot=progress.lot,
        reason=reason,
        confirm_outstanding=confirm_outstanding and not check.clean,
        outstanding=check.outstanding,
        unacknowledged=check.unacknowledged[:1000],
    )
    return approvals.propose(
        services,
        member=member,
        proposer=proposer,
        kind=CLOSE,
        payload=proposal.model_dump(mode="json"),
        summary=f"#{recall_id} {progress.gtin} {progress.lot} · {reason}"[:500],
    )


def _may_close(member: Member, manufacturer: str, recall_id: int) -> None:
    if member.role is not Role.REGULATOR and manufacturer.lower() != member.address.lower():
        raise NotFound(RecallProblem.UNKNOWN, f"no recall {recall_id} on the ledger")


def _close(services: Services, member: Member, payload: Mapping[str, Any]) -> dict[str, Any]:
    p = CloseProposal.model_validate(payload)
    with services.engine.connect() as conn:
        _may_close(
            member, recall_progress(services, conn, p.recall_id).scope.manufacturer.address,
            p.recall_id,
        )  # fmt: skip
        w = recall_actions.close(
            services,
            conn,
            by=_signer(member),
            recall_id=p.recall_id,
            reason=p.reason,
            confirm_outstanding=p.confirm_outstanding,
        )
    return {"recall_id": p.recall_id, "tx_hash": w.tx_hash,
            "block_number": w.block_number, "indexed": w.indexed}  # fmt: skip


approvals.register_kind(ISSUE, _issue, StaffRole.QA)
approvals.register_kind(CLOSE, _close, StaffRole.QA)
