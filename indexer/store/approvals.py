"""Maker-checker rows (`api_approvals`): an action proposed by one user, decided by
another (`domain.approvals`). A decision moves a row out of `pending` with one UPDATE
guarded by its state, so two checkers cannot both decide it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, insert, select, update

from medledger.indexer.store.tables import approvals

__all__ = ["ApprovalRow", "add_approval", "approval", "approvals_of", "count_pending", "move"]


@dataclass(frozen=True, slots=True)
class ApprovalRow:
    id: str
    organisation: str
    kind: str
    payload: str
    summary: str
    checker_role: str
    proposer: str
    proposed_at: int
    state: str
    decided_by: str | None = None
    decided_at: int | None = None
    reason: str | None = None
    outcome: str | None = None


_COLUMNS = tuple(approvals.c[name] for name in ApprovalRow.__slots__)


def add_approval(engine: Engine, row: ApprovalRow) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(approvals).values({name: getattr(row, name) for name in ApprovalRow.__slots__})
        )


def approval(engine: Engine, approval_id: str) -> ApprovalRow | None:
    with engine.connect() as conn:
        row = conn.execute(select(*_COLUMNS).where(approvals.c.id == approval_id)).first()
    return None if row is None else ApprovalRow(*row)


def approvals_of(
    engine: Engine, organisation: str, *, state: str | None = None, limit: int = 100
) -> list[ApprovalRow]:
    """The organisation's approvals, newest first."""
    where = [approvals.c.organisation == organisation]
    if state is not None:
        where.append(approvals.c.state == state)
    with engine.connect() as conn:
        rows = conn.execute(
            select(*_COLUMNS)
            .where(*where)
            .order_by(approvals.c.proposed_at.desc(), approvals.c.id)
            .limit(limit)
        ).all()
    return [ApprovalRow(*r) for r in rows]


def count_pending(engine: Engine, organisation: str) -> int:
    with engine.connect() as conn:
        found = conn.execute(
            select(func.count())
            .select_from(approvals)
            .where(approvals.c.organisation == organisation, approvals.c.state == "pending")
        ).scalar()
    return int(found or 0)


def move(
    engine: Engine,
    approval_id: str,
    *,
    from_state: str,
    to_state: str,
    decided_by: str | None = None,
    decided_at: int | None = None,
    reason: str | None = None,
    outcome: str | None = None,
) -> bool:
    """Move the row from `from_state` to `to_state` (False if it was not in `from_state`)."""
    values: dict[str, object] = {"state": to_state}
    for name, value in (("decided_by", decided_by), ("decided_at", decided_at),
                        ("reason", reason), ("outcome", outcome)):  # fmt: skip
        if value is not None:
            values[name] = value
    with engine.begin() as conn:
        done = conn.execute(
            update(approvals)
            .where(approvals.c.id == approval_id, approvals.c.state == from_state)
            .values(values)
        )
    return done.rowcount == 1
