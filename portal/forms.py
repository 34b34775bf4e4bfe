"""Reading the portal's form fields into the API's request values: codes a clerk scans or
types (one per line) into item ids, dates into unix times, degrees Celsius into the
ledger's tenths, free text into the hashes anchored on chain. A bad value raises
`FormError` naming the field, so the page marks it and keeps what was typed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from eth_utils import keccak

from medledger.portal.errors import FormError
from medledger.sdk.dates import day_end, day_of, day_start
from medledger.sdk.errors import Gs1Error
from medledger.sdk.gs1 import Udi, parse_code

__all__ = [
    "codes",
    "date_ts",
    "local_date",
    "local_path",
    "need",
    "tenths",
    "text_hash",
    "whole",
]


def _bad(field: str, code: str, detail: str) -> FormError:
    return FormError(code, detail, {field: detail})


def need(field: str, value: str) -> str:
    value = value.strip()
    if not value:
        raise _bad(field, "invalid_request", "required")
    return value


def codes(field: str, text: str) -> list[Udi]:
    """Every non-empty line as a GS1 code (unit or SSCC); the first bad line is named."""
    found: list[Udi] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            udi = parse_code(line.strip())
            udi.digital_link_path  # noqa: B018 — raises missing_serial for a bare GTIN
        except Gs1Error as exc:
            raise FormError(exc.code, f"line {number}: {exc}", {field: f"{number}: {exc}"}) from exc
        found.append(udi)
    if not found:
        raise _bad(field, "empty", "no code entered")
    return found


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


def text_hash(text: str) -> bytes | None:
    """keccak256 of a note or record as anchored on chain (None for no text)."""
    return keccak(text=text.strip()) if text.strip() else None


def local_path(target: str | None) -> str | None:
    """A local portal path to go on to (a form's `next`), never another site."""
    if target and target.startswith("/portal/") and not target.startswith("//"):
        return target
    return None
