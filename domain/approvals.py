"""Maker-checker: an action one user proposes and a different user, whose role covers the
action's checker role, approves (it is executed then, and only then) or rejects with a
reason.

    proposed = propose(services, member=m, proposer=staff, kind="release_lots",
                       payload=body.model_dump(mode="json"), summary="…")
    decide(services, proposed.id, member=m, checker=other_staff, approve=True)

Each kind has an executor, `register_kind(kind, executor, checker_role)`: it gets the
services, the member and the payload and returns what to keep as the outcome (the
transaction hash). Registered here: `release_lots` (loose units of lot-tracked devices,
`domain.lot_custody.release_lots`) and `release_units` (serialised units,
`domain.items.release`), both checked by QA. Rows live in the API store
(`indexer.store.approvals`); a member sees only its own (another's is 404).

States: pending → approved (executed) | rejected | failed (the ledger refused it at
approval; the outcome keeps the code) | withdrawn (by its proposer).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from medledger.domain import items, lot_custody
from medledger.domain.auth import Member, Staff, StaffRole
from medledger.domain.errors import ApiError, Conflict, Forbidden, NotFound, Unprocessable
from medledger.domain.lot_schemas import LotsIn
from medledger.domain.partner_schemas import ItemsIn, OperationOut
from medledger.domain.services import Services
from medledger.domain.store import api_store
from medledger.indexer.store import approvals as store
from medledger.indexer.store.approvals import ApprovalRow
from medledger.sdk.errors import MedLedgerError

__all__ = [
    "Approval",
    "ApprovalRow",
    "Kind",
    "decide",
    "pending_count",
    "propose",
    "register_kind",
    "approvals_of",
    "withdraw",
]

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_REASON = 2000
MAX_PENDING = 1000  # a member's pending actions at once

Executor = Callable[[Services, Member, Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Kind:
    executor: Executor
    checker_role: StaffRole


KINDS: dict[str, Kind] = {}


def register_kind(name: str, executor: Executor, checker_role: StaffRole) -> None:
    KINDS[name] = Kind(executor, checker_role)


def _operation(out: OperationOut) -> dict[str, Any]:
    return {"tx_hash": out.tx_hash, "block_number": out.block_number, "indexed": out.indexed}


def _release_lots(services: Services, member: Member, payload: Mapping[str, Any]) -> dict[str, Any]:
    body = LotsIn.model_validate(payload)
    return _operation(lot_custody.release_lots(services, member=member, body=body))


def _release_units(
    services: Services, member: Member, payload: Mapping[str, Any]
) -> dict[str, Any]:
    body = ItemsIn.model_validate(payload)
    return _operation(items.release(services, member=member, items=body))


register_kind("release_lots", _release_lots, StaffRole.QA)
register_kind("release_units", _release_units, StaffRole.QA)


@dataclass(frozen=True, slots=True)
class Approval:
    """An approval as the faces show it."""

    id: str
    kind: str
    payload: dict[str, Any]
    summary: str
    checker_role: StaffRole
    proposer: str
    proposed_at: int
    state: str
    decided_by: str | None
    decided_at: int | None
    reason: str | None
    outcome: dict[str, Any] | None

    @classmethod
    def of(cls, row: ApprovalRow) -> Approval:
        return cls(
            row.id,
            row.kind,
            json.loads(row.payload),
            row.summary,
            StaffRole(row.checker_role),
            row.proposer,
            row.proposed_at,
            row.state,
            row.decided_by,
            row.decided_at,
            row.reason,
            json.loads(row.outcome) if row.outcome else None,
        )


def propose(
    services: Services,
    *,
    member: Member,
    proposer: Staff,
    kind: str,
    payload: Mapping[str, Any],
    summary: str,
) -> Approval:
    """Keep `kind` with `payload` (JSON) pending until another user decides it."""
    found = KINDS.get(kind)
    if found is None:
        raise Unprocessable("invalid_request", f"no maker-checker action {kind!r}")
    text = json.dumps(dict(payload), separators=(",", ":"), sort_keys=True)
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise Unprocessable("invalid_request", "the action is too large to keep for approval")
    engine = api_store(services).engine
    if store.count_pending(engine, member.address) >= MAX_PENDING:
        raise Unprocessable("approval_limit", f"at most {MAX_PENDING} actions await approval")
    row = ApprovalRow(
        secrets.token_hex(8),
        member.address,
        kind,
        text,
        summary[:500],
        str(found.checker_role),
        proposer.username,
        int(time.time()),
        "pending",
    )
    store.add_approval(engine, row)
    return Approval.of(row)


def _own(services: Services, approval_id: str, member: Member) -> ApprovalRow:
    row = store.approval(api_store(services).engine, approval_id[:32])
    if row is None or row.organisation != member.address:
        raise NotFound("approval_not_found", f"no action {approval_id!r} awaits your approval")
    return row


def decide(
    services: Services,
    approval_id: str,
    *,
    member: Member,
    checker: Staff,
    approve: bool,
    reason: str = "",
) -> Approval:
    """Approve (execute now) or reject (with a reason) a pending action of `member`.

    404 `approval_not_found` for another member's or an unknown action; 409
    `approval_decided` when it is no longer pending; 403 `approval_own_proposal` for its
    proposer and `approval_role_required` for a role that does not cover its checker role;
    422 `reason_required` for a rejection without a reason. An action the ledger refuses
    at approval is kept as failed (with the refusal's code) and the refusal is raised."""
    row = _own(services, approval_id, member)
    if row.state != "pending":
        raise Conflict("approval_decided", f"action {row.id} is already {row.state}")
    if checker.username == row.proposer:
        raise Forbidden(
            "approval_own_proposal", "another user must approve or reject what you proposed"
        )
    if not checker.role.covers(StaffRole(row.checker_role)):
        raise Forbidden(
            "approval_role_required", f"deciding this action needs the role {row.checker_role}"
        )
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise Unprocessable("invalid_request", f"a reason has at most {MAX_REASON} characters")
    engine = api_store(services).engine
    now = int(time.time())
    if not approve:
        if not reason:
            raise Unprocessable("reason_required", "say why the action is rejected")
        if not store.move(engine, row.id, from_state="pending", to_state="rejected",
                          decided_by=checker.username, decided_at=now, reason=reason):  # fmt: skip
            raise Conflict("approval_decided", f"action {row.id} was decided just now")
        return Approval.of(_own(services, row.id, member))
    if not store.move(engine, row.id, from_state="pending", to_state="executing",
                      decided_by=checker.username, decided_at=now, reason=reason):  # fmt: skip
        raise Conflict("approval_decided", f"action {row.id} was decided just now")
    try:
        outcome = KINDS[row.kind].executor(services, member, json.loads(row.payload))
    except (ApiError, MedLedgerError, ValueError) as exc:
        code = getattr(exc, "code", None) or getattr(exc, "name", None) or type(exc).__name__
        store.move(engine, row.id, from_state="executing", to_state="failed",
                   outcome=json.dumps({"code": str(code)}))  # fmt: skip
        raise
    store.move(engine, row.id, from_state="executing", to_state="approved",
               outcome=json.dumps(dict(outcome)))  # fmt: skip
    return Approval.of(_own(services, row.id, member))


def withdraw(services: Services, approval_id: str, *, member: Member, proposer: Staff) -> Approval:
    """The proposer takes back an action still pending."""
    row = _own(services, approval_id, member)
    if row.proposer != proposer.username:
        raise Forbidden("approval_not_yours", "only its proposer withdraws an action")
    if not store.move(api_store(services).engine, row.id, from_state="pending",
                      to_state="withdrawn", decided_by=proposer.username,
                      decided_at=int(time.time())):  # fmt: skip
        raise Conflict("approval_decided", f"action {row.id} is already {row.state}")
    return Approval.of(_own(services, row.id, member))


def approvals_of(
    services: Services, *, member: Member, state: str | None = None, limit: int = 100
) -> list[Approval]:
    rows = store.approvals_of(api_store(services).engine, member.address, state=state,
                              limit=max(1, min(limit, 500)))  # fmt: skip
    return [Approval.of(r) for r in rows]


def pending_count(services: Services, *, member: Member) -> int:
    return store.count_pending(api_store(services).engine, member.address)
