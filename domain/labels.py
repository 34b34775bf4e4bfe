"""Which units of a lot may get a label: a label is a promise that the code is genuine, so
none is printed for a recalled lot, a serial never commissioned in that lot, or a unit
already dispensed or destroyed. `label_refusals` says which, and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.engine import Connection

from medledger.indexer.queries.devices import LotRow, unit_statuses
from medledger.sdk.gs1 import Udi
from medledger.sdk.model import ItemStatus

__all__ = ["LabelRefusal", "Unlabellable", "label_refusals"]


class Unlabellable(StrEnum):
    LOT_RECALLED = "lot_recalled"
    NOT_COMMISSIONED = "not_commissioned"
    DISPENSED = "dispensed"
    DESTROYED = "destroyed"


@dataclass(frozen=True, slots=True)
class LabelRefusal:
    reason: Unlabellable
    serials: tuple[str, ...]  # empty for a refusal of the whole lot


_USED_UP = {
    ItemStatus.DISPENSED: Unlabellable.DISPENSED,
    ItemStatus.DESTROYED: Unlabellable.DESTROYED,
}


def label_refusals(conn: Connection, lot: LotRow, units: Sequence[Udi]) -> list[LabelRefusal]:
    """Why some of `units` (all of `lot`) must not be labelled; empty when all may be."""
    if lot.recalled:
        return [LabelRefusal(Unlabellable.LOT_RECALLED, ())]
    statuses = unit_statuses(conn, lot.lot_key, [u.item_id for u in units])
    refused: dict[Unlabellable, list[str]] = {}
    for unit in units:
        status = statuses.get(unit.item_id)
        reason = Unlabellable.NOT_COMMISSIONED if status is None else _USED_UP.get(status)
        if reason is not None:
            refused.setdefault(reason, []).append(str(unit.serial))
    return [LabelRefusal(reason, tuple(serials)) for reason, serials in refused.items()]
