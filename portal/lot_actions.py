"""What a holder does with its loose units of lot-tracked devices from a portal form: use
them on patients (hospitals), quarantine, release, destroy. One line per lot
(`portal.lot_forms`), a record or reason number sealed for the holder and the regulator
(`domain.record_notes`; only its salted commitment goes on chain), and the
same use cases as the JSON API (`domain.lot_custody`)."""

from __future__ import annotations

from collections.abc import Callable

from medledger.domain import lot_custody
from medledger.domain.lot_schemas import LotsIn
from medledger.domain.partner_schemas import OperationOut, hexs
from medledger.domain.record_notes import MAX_NOTE, anchored, seal_note
from medledger.domain.records import RecordKind
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
# The kind of the sealed record a typed record or reason number becomes.
KINDS = {
    "dispense": RecordKind.DISPENSE,
    "quarantine": RecordKind.QUARANTINE,
    "release": RecordKind.RELEASE,
    "destroy": RecordKind.DESTRUCTION,
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
    reference = record.strip()[:MAX_NOTE]
    sealed = None
    if reference:
        sealed = seal_note(
            ctx.services,
            kind=KINDS[action],
            author=ctx.signed_in.address,
            subject_id=lines[0].lot_key,
            body={"action": action, "reference": reference, "lots": as_body(lines)},
        )
    body = LotsIn.model_validate(
        {"lots": as_body(lines), "record_hash": hexs(sealed.commitment) if sealed else None}
    )
    done = anchored(ctx.services, sealed, act(ctx.services, member=ctx.signed_in, body=body))
    notice = ctx._("%(n)s loose units recorded: %(action)s.") % {
        "n": ctx.fmt.number(sum(q.quantity for q in lines)),
        "action": ctx._(word),
    }
    return Done(notice, done.indexed)
