"""Reading loose lot quantities from the portal's forms: one line per lot, the lot named by
a scanned or typed lot code (any form `portal.forms.read_code` reads) or by its GTIN and lot
number, then the quantity: `(01)06901234500017(10)G-01 25` or `06901234500017 G-01 25`.
A lot named twice adds up. A bad line raises `FormError` naming the field and the line."""

from __future__ import annotations

from dataclasses import dataclass

from medledger.domain.partner_schemas import MAX_BATCH, hexs
from medledger.portal.errors import FormError
from medledger.portal.forms import read_code
from medledger.sdk import gs1
from medledger.sdk.errors import Gs1Error

__all__ = ["LotLine", "lot_lines", "as_body"]

MAX_QUANTITY = 2**32 - 1


@dataclass(frozen=True, slots=True)
class LotLine:
    gtin: str
    lot: str
    quantity: int

    @property
    def lot_key(self) -> bytes:
        return gs1.lot_key(self.gtin, self.lot)


def _bad(field: str, number: int, code: str, detail: str) -> FormError:
    return FormError(code, f"line {number}: {detail}", {field: f"{number}: {detail}"})


def _line(field: str, number: int, line: str) -> LotLine:
    *names, count = line.split()
    if not names or not count.isdigit() or not 1 <= int(count) <= MAX_QUANTITY:
        raise _bad(
            field, number, "invalid_quantity", f"end the line with a quantity 1..{MAX_QUANTITY}"
        )
    if len(names) == 1:
        udi = read_code(field, names[0], line=number)
        if udi.gtin is None or udi.lot is None or udi.serial is not None:
            raise _bad(field, number, "missing_lot", "the code names no lot (or names a unit)")
        return LotLine(udi.gtin, udi.lot, int(count))
    if len(names) == 2:
        gtin, lot = names
        try:
            gs1.lot_key(gtin, lot)
            gtin = gs1.validate_gtin(gtin)
        except (Gs1Error, ValueError) as exc:
            raise _bad(field, number, "missing_lot", str(exc)) from exc
        return LotLine(gtin, lot, int(count))
    raise _bad(field, number, "missing_lot", "a lot code, or a GTIN and lot, then the quantity")


def lot_lines(field: str, text: str) -> list[LotLine]:
    """The lot quantities typed into `field` (none for an empty field)."""
    totals: dict[tuple[str, str], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            q = _line(field, number, line.strip())
            totals[(q.gtin, q.lot)] = totals.get((q.gtin, q.lot), 0) + q.quantity
    if len(totals) > MAX_BATCH:
        raise FormError("invalid_request", f"more than {MAX_BATCH} lots", {field: f"≤ {MAX_BATCH}"})
    return [LotLine(g, n, q) for (g, n), q in totals.items()]


def as_body(lines: list[LotLine]) -> list[dict[str, object]]:
    """The lines as the API's `lots` entries."""
    return [{"lot_key": hexs(q.lot_key), "quantity": q.quantity} for q in lines]
