"""The words on a label and on a refused label sheet, in the reader's language: the product
text printed beside the codes (name in the page's language with the other language below
it, model, registration certificate, lot, expiry as a plain date, storage conditions,
from the product's master record) and the reasons a sheet is refused."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence

from sqlalchemy.engine import Connection

from medledger.domain.labels import LabelRefusal, Unlabellable
from medledger.domain.master_data import MasterRecord
from medledger.domain.partner_schemas import hexs
from medledger.indexer.queries.devices import LotRow, lots_of
from medledger.portal.context import Ctx
from medledger.portal.errors import FormError
from medledger.portal.forms import local_date, serials_of
from medledger.sdk.errors import Gs1Error
from medledger.sdk.gs1 import Udi

__all__ = [
    "MAX_LABELS",
    "asked_codes",
    "label_date",
    "now",
    "own_lot",
    "product_text",
    "refusal",
    "too_many",
]

MAX_LABELS = 200


def now() -> int:
    return int(time.time())


def label_date(ctx: Ctx, day: dt.date) -> str:
    """`2026-11-20` in English, `2026年11月20日` in Chinese: no month names to misread."""
    if ctx.lang.code == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return day.isoformat()


def _storage(ctx: Ctx, record: MasterRecord) -> str:
    storage = record.storage
    own, other = (
        (storage.conditions_zh, storage.conditions_en)
        if ctx.lang.code == "zh"
        else (storage.conditions_en, storage.conditions_zh)
    )
    if own or other:
        return own or other
    low, high = ctx.fmt.temperature(storage.temp_min), ctx.fmt.temperature(storage.temp_max)
    return f"{low} – {high}"


def product_text(
    ctx: Ctx,
    record: MasterRecord | None,
    *,
    lot: LotRow,
    contains: int | None = None,
) -> tuple[str, ...]:
    """The lines printed apart from the HRI; a product without a master record prints its
    lot and expiry only."""
    lines: list[str] = []
    if record is not None:
        names = [record.name_zh, record.name_en]
        if ctx.lang.code != "zh":
            names.reverse()
        lines += [n for i, n in enumerate(names) if n and n not in names[:i]]
    if contains is not None:
        lines.append(ctx._("Contains %(count)s units") % {"count": ctx.fmt.number(contains)})
    if record is not None:
        lines.append(ctx._("Model: %(model)s") % {"model": record.model})
        number = record.registration_number
        lines.append(ctx._("Registration certificate: %(number)s") % {"number": number})
    expiry = label_date(ctx, local_date(lot.expiry))
    lot_line = ctx._("Lot: %(lot)s · Expiry: %(expiry)s")
    lines.append(lot_line % {"lot": lot.lot_number, "expiry": expiry})
    if record is not None:
        lines.append(ctx._("Storage: %(conditions)s") % {"conditions": _storage(ctx, record)})
    return tuple(lines)


def own_lot(ctx: Ctx, conn: Connection, lot_key: str) -> LotRow:
    """The signed-in manufacturer's lot `lot_key` (0x hex), or a FormError."""
    lots = lots_of(conn, ctx.signed_in.address)
    lot = next((r for r in lots if hexs(r.lot_key) == lot_key), None)
    if lot is None:
        raise FormError("DevicesUnknownLot", f"no lot {lot_key!r} of yours", {"lot_key": "?"})
    return lot


def asked_codes(lot: LotRow, gtin: str, serials: str) -> list[Udi]:
    """The codes of `gtin` (the lot's product or one of its package levels), lot and expiry
    for each serial typed or scanned, exactly as asked, or a FormError."""
    names = serials_of("serials", serials, gtin=gtin)
    if not names:
        raise FormError("empty", "no serial numbers", {"serials": "?"})
    if (over := too_many(len(names))) is not None:
        raise over
    expiry = local_date(lot.expiry)
    try:
        return [Udi(gtin=gtin, lot=lot.lot_number, serial=n, expiry=expiry) for n in names]
    except Gs1Error as exc:
        raise FormError(exc.code, str(exc), {"serials": str(exc)}) from exc


def too_many(count: int, field: str = "serials") -> FormError | None:
    if count <= MAX_LABELS:
        return None
    limits = {"limit": str(MAX_LABELS), "count": str(count)}
    return FormError("labels_too_many", f"{count} labels asked", {field: "?"}, limits)


def refusal(
    ctx: Ctx, lot: LotRow, refusals: Sequence[LabelRefusal], *, cases_of: str | None = None
) -> FormError | None:
    """The one error saying why a sheet (of units, or of cases of `cases_of`) is refused."""
    if not refusals:
        return None
    whole = refusals[0].reason
    if whole is Unlabellable.LOT_RECALLED:
        return FormError(
            "labels_lot_recalled", "lot recalled", {"lot_key": "?"}, {"lot": lot.lot_number}
        )
    if whole is Unlabellable.LOT_EXPIRED:
        params = {"lot": lot.lot_number, "expiry": label_date(ctx, local_date(lot.expiry))}
        return FormError("labels_lot_expired", "lot expired", {"lot_key": "?"}, params)
    reasons: list[str] = []
    for r in refusals:
        code, params = f"label_{r.reason}", {"serials": ", ".join(r.serials)}
        if cases_of is not None and r.reason is Unlabellable.NOT_COMMISSIONED:
            code, params["gtin"] = "label_case_not_commissioned", cases_of
        reasons.append(ctx.explain(FormError(code, r.reason, params=params)))
    code = "labels_refused" if cases_of is None else "labels_cases_refused"
    return FormError(code, "; ".join(reasons), {"serials": " ".join(reasons)})
