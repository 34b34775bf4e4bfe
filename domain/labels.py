"""What may get a label: a label is a promise that the code is genuine, so none is printed
for a recalled or expired lot, a serial or case never commissioned in that lot, a unit or
case already dispensed, destroyed or unpacked, or a logistic unit (SSCC) that is not the
member's. `label_refusals`, `case_labels` and `logistic_label` say which, and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.engine import Connection

from medledger.indexer.queries.devices import LotRow, unit_statuses
from medledger.indexer.queries.labels import ContainerLabelRow, case_rows, container_label
from medledger.sdk.gs1 import Udi
from medledger.sdk.model import ItemStatus

__all__ = [
    "CaseLabel",
    "LabelRefusal",
    "Unlabellable",
    "case_labels",
    "label_refusals",
    "logistic_label",
]


class Unlabellable(StrEnum):
    LOT_RECALLED = "lot_recalled"
    LOT_EXPIRED = "lot_expired"
    NOT_COMMISSIONED = "not_commissioned"
    DISPENSED = "dispensed"
    DESTROYED = "destroyed"
    UNPACKED = "unpacked"
    CONTAINER_UNKNOWN = "container_unknown"
    CONTAINER_NOT_YOURS = "container_not_yours"


@dataclass(frozen=True, slots=True)
class LabelRefusal:
    reason: Unlabellable
    serials: tuple[str, ...]  # empty for a refusal of the whole lot


@dataclass(frozen=True, slots=True)
class CaseLabel:
    """A case's code (package GTIN, lot, expiry, serial) and the base units it holds."""

    udi: Udi
    quantity: int


_USED_UP = {
    ItemStatus.DISPENSED: Unlabellable.DISPENSED,
    ItemStatus.DESTROYED: Unlabellable.DESTROYED,
    ItemStatus.UNPACKED: Unlabellable.UNPACKED,
}


def _lot_refusal(lot: LotRow, now: int) -> list[LabelRefusal]:
    if lot.recalled:
        return [LabelRefusal(Unlabellable.LOT_RECALLED, ())]
    if lot.expiry < now:
        return [LabelRefusal(Unlabellable.LOT_EXPIRED, ())]
    return []


def _by_reason(units: Sequence[Udi], statuses: dict[bytes, ItemStatus]) -> list[LabelRefusal]:
    refused: dict[Unlabellable, list[str]] = {}
    for unit in units:
        status = statuses.get(unit.item_id)
        reason = Unlabellable.NOT_COMMISSIONED if status is None else _USED_UP.get(status)
        if reason is not None:
            refused.setdefault(reason, []).append(str(unit.serial))
    return [LabelRefusal(reason, tuple(serials)) for reason, serials in refused.items()]


def label_refusals(
    conn: Connection, lot: LotRow, units: Sequence[Udi], *, now: int
) -> list[LabelRefusal]:
    """Why some of `units` (all of `lot`) must not be labelled at unix time `now`; empty
    when all may be. A recalled or expired lot refuses the whole request."""
    whole = _lot_refusal(lot, now)
    if whole:
        return whole
    return _by_reason(units, unit_statuses(conn, lot.lot_key, [u.item_id for u in units]))


def case_labels(
    conn: Connection, lot: LotRow, cases: Sequence[Udi], *, now: int
) -> tuple[list[CaseLabel], list[LabelRefusal]]:
    """The case labels for `cases` (package GTIN + serial, all of `lot`), or why not: a
    case counts as commissioned only if `packCases` made it from this lot with that GTIN."""
    whole = _lot_refusal(lot, now)
    if whole:
        return [], whole
    rows = case_rows(conn, lot.lot_key, [c.item_id for c in cases])
    statuses = {
        key: row.status
        for key, row in rows.items()
        if any(c.item_id == key and str(c.gtin) == row.package_gtin for c in cases)
    }
    refusals = _by_reason(cases, statuses)
    if refusals:
        return [], refusals
    return [CaseLabel(c, rows[c.item_id].quantity) for c in cases], []


def logistic_label(
    conn: Connection, *, member_address: str, sscc: str
) -> ContainerLabelRow | Unlabellable:
    """The logistic unit `sscc` with its contents, if the member holds it."""
    row = container_label(conn, sscc)
    if row is None:
        return Unlabellable.CONTAINER_UNKNOWN
    if row.holder.lower() != member_address.lower():
        return Unlabellable.CONTAINER_NOT_YOURS
    return row
