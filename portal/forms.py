"""Reading the portal's form fields into the API's request values: codes a clerk scans or
types (one per line) into item ids (every form the verification page reads, through the
one parser `read_code`: element string with parentheses, GS-separated DataMatrix payload
with or without `]d2`, Digital Link URI, bare 18-digit SSCC), dates into unix times
(calendar days in the consortium's time zone, `sdk.dates`), degrees Celsius into the
ledger's tenths, free text into the hashes anchored on chain. A bad value raises
`FormError` naming the field, so the page marks it and keeps what was typed."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from medledger.portal.errors import FormError
from medledger.sdk.dates import day_end, day_of, day_start
from medledger.sdk.errors import Gs1Error
from medledger.sdk.gs1 import Udi, parse_code

__all__ = [
    "code_lot",
    "codes",
    "read_code",
    "serials_of",
    "date_ts",
    "local_date",
    "local_path",
    "need",
    "tenths",
    "whole",
]


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _bad(field: str, code: str, detail: str) -> FormError:
    return FormError(code, detail, {field: detail})


def need(field: str, value: str) -> str:
    value = value.strip()
    if not value:
        raise _bad(field, "invalid_request", "required")
    return value


def read_code(field: str, text: str, *, line: int | None = None) -> Udi:
    """One code in any form a label carries or a clerk types (`sdk.gs1.parse_code`); a
    FormError naming `field` (and the line) otherwise."""
    try:
        return parse_code(text)
    except Gs1Error as exc:
        where = f"line {line}: " if line is not None else ""
        mark = f"{line}: {exc}" if line is not None else str(exc)
        raise FormError(exc.code, f"{where}{exc}", {field: mark}) from exc


def _lines(text: str) -> list[str]:
    """The lines of a text field. Not `str.splitlines`, which also breaks at the GS (FNC1)
    separators inside a scanned DataMatrix payload."""
    return _LINE_BREAK.split(text)


def codes(field: str, text: str) -> list[Udi]:
    """Every non-empty line as a GS1 code (unit or SSCC); the first bad line is named."""
    found: list[Udi] = []
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        udi = read_code(field, line.strip(), line=number)
        try:
            udi.digital_link_path  # noqa: B018 — raises missing_serial for a bare GTIN
        except Gs1Error as exc:
            raise FormError(exc.code, f"line {number}: {exc}", {field: f"{number}: {exc}"}) from exc
        found.append(udi)
    if not found:
        raise _bad(field, "empty", "no code entered")
    return found


def _looks_like_code(text: str) -> bool:
    """Whether a field holds a whole code rather than a bare GTIN, lot or serial (those are
    at most 20 characters and never start with `(`, `]` or a URL scheme)."""
    return text.startswith(("(", "]", "http://", "https://")) or "\x1d" in text or len(text) > 20


def code_lot(gtin_field: str, gtin: str, lot: str) -> tuple[str, str]:
    """A GTIN and lot as typed in two fields, or a whole code (any form, with a GTIN and a
    lot) scanned into the GTIN field: then the lot field may stay empty."""
    typed = gtin.strip()
    if not _looks_like_code(typed):
        return typed, lot.strip()
    udi = read_code(gtin_field, typed)
    if udi.gtin is None or udi.lot is None:
        raise _bad(gtin_field, "missing_lot", "the code carries no GTIN and lot")
    if lot.strip() and lot.strip() != udi.lot:
        raise _bad(
            gtin_field, "code_lot_mismatch", f"the code's lot is {udi.lot}, not {lot.strip()}"
        )
    return udi.gtin, udi.lot


def serials_of(field: str, text: str, *, gtin: str) -> list[str]:
    """Serial numbers, one per line (or comma-separated); a line holding a whole code (any
    form) gives its serial, which is how a serial containing a comma is entered. A code of
    another GTIN, or without a serial, is a field error."""
    serials: list[str] = []
    for number, line in enumerate(_lines(text), start=1):
        line = line.strip()
        if not _looks_like_code(line):
            serials += [s.strip() for s in line.split(",") if s.strip()]
            continue
        udi = read_code(field, line, line=number)
        if udi.serial is None or udi.gtin != gtin:
            raise _bad(field, "code_not_of_lot", f"{number}: not a unit of GTIN {gtin}")
        serials.append(udi.serial)
    return serials


def date_ts(field: str, value: str, *, end_of_day: bool = False) -> int:
    """A `YYYY-MM-DD` form date as a unix time: the start of that day in the consortium's
    time zone (`sdk.dates`), or its last second with `end_of_day`."""
    try:
        day = dt.date.fromisoformat(need(field, value))
    except ValueError as exc:
        raise _bad(field, "invalid_request", f"{value!r} is not a date (YYYY-MM-DD)") from exc
    return day_end(day) if end_of_day else day_start(day)


def local_date(timestamp: int) -> dt.date:
    """The calendar day of a unix time in the consortium's time zone (`sdk.dates`)."""
    return day_of(timestamp)


def tenths(field: str, value: str) -> int:
    """Degrees Celsius as typed (`2`, `-18.5`, `2,5`) in tenths of a degree."""
    try:
        degrees = Decimal(need(field, value).replace(",", "."))
    except InvalidOperation as exc:
        raise _bad(field, "invalid_request", f"{value!r} is not a temperature") from exc
    if not degrees.is_finite():  # NaN, Infinity
        raise _bad(field, "invalid_request", f"{value!r} is not a temperature")
    if abs(degrees) > 10_000:  # before scaling: 1e999999 would overflow the context
        raise _bad(field, "invalid_request", f"{value} °C is out of range")
    result = int((degrees * 10).to_integral_value())
    if not -32768 <= result <= 32767:
        raise _bad(field, "invalid_request", f"{value} °C is out of range")
    return result


def whole(field: str, value: str, *, low: int, high: int) -> int:
    try:
        number = int(need(field, value))
    except ValueError as exc:
        raise _bad(field, "invalid_request", f"{value!r} is not a whole number") from exc
    if not low <= number <= high:
        raise _bad(field, "invalid_request", f"{number} is not between {low} and {high}")
    return number


def local_path(target: str | None) -> str | None:
    """A local portal path to go on to (a form's `next`), never another site."""
    if target and target.startswith("/portal/") and not target.startswith("//"):
        return target
    return None
