"""What a holder does with its loose units of lot-tracked devices from a portal form: use
them on patients (hospitals), quarantine, release, destroy. One line per lot
(`portal.lot_forms`), a record or reason number sealed for the holder and the regulator
(`domain.lot_custody` seals it; only its salted commitment goes on chain), and the
same use cases as the JSON API (`domain.lot_custody`). A release from quarantine is QA's
sign-off: it is proposed here (by a QA user or a manager; `portal.context` refuses a
clerk) and executed when another QA user or manager approves it (`domain.approvals`,
the page "Awaiting approval")."""

from __future__ import annotations

from collections.abc import Callable

from medledger.domain import approvals, lot_custody
from medledger.domain.lot_schemas import LotsIn
from medledger.domain.partner_schemas import OperationOut
from medledger.portal.context import Ctx
from medledger.portal.errors import FormError
from medledger.portal.lot_forms import as_body, lot_lines
from medledger.portal.nav import _l

__all__ = ["HELD", "USE", "Done", "lot_action"]

Action = Callable[..., OperationOut]
# The actions on one's own stock, and the word the notice uses for each.
HELD: dict[str, tuple[Action, str]] = {
    "quarantine": (lot_custody.quarantine_lots, _l("quarantined")),
    "release": (lot_custody.release_lots, _l("released")),
    "destroy": (lot_custody.destroy_lots, _l("destroyed")),
}
USE: dict[str, tuple[Action, str]] = {
    "dispense": (lot_custody.dispense_lots, _l("used on patients")),
    **HELD,
}


class Done:
    """The notice of an action that went through, and whether the index showed it."""

    def __init__(self, notice: str, indexed: bool) -> None:
        self.notice = notice
        self.indexed = indexed


def lot_action(
    ctx: Ctx, actions: dict[str, tuple[Action, str]], *, lots: str, action: str, record: str
) -> Done:
    """Run `action` (one of `actions`) on the lot quantities typed in `lots`; FormError,
    ValidationError or the ledger's refusal otherwise."""
    chosen = actions.get(action)
    if chosen is None:
        raise FormError("invalid_request", f"action {action!r}", {"action": action})
    act, word = chosen
    lines = lot_lines("lots", lots)
    if not lines:
        raise FormError("empty", "no lot entered", {"lots": "—"})
    reference = record.strip()
    note = {"reference": reference, "note": action} if reference else None
    body = LotsIn.model_validate({"lots": as_body(lines), "record": note})
    if action == "release":
        approvals.propose(
            ctx.services,
            member=ctx.signed_in,
            proposer=ctx.staff,
            kind="release_lots",
            payload={"lots": as_body(lines), "record": note},  # sealed when approved
            summary="; ".join(f"{q.gtin} {q.lot} × {q.quantity}" for q in lines),
        )
        notice = ctx._(
            "Release of %(n)s loose units proposed: it is done when another QA user or a "
            "manager approves it (Awaiting approval)."
        ) % {"n": ctx.fmt.number(sum(q.quantity for q in lines))}
        return Done(notice, True)
    done = act(ctx.services, member=ctx.signed_in, body=body)
    notice = ctx._("%(n)s loose units recorded: %(action)s.") % {
        "n": ctx.fmt.number(sum(q.quantity for q in lines)),
        "action": ctx._(word),
    }
    return Done(notice, done.indexed)
