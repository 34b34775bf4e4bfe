"""Reading the code a caller names an item or a lot by, the one rule every route uses.

An item (unit, case, pallet) is named by its 32-byte id (hex, with or without `0x`) or by
any GS1 code form `sdk.gs1.parse_code` reads: a Digital Link URI, an element string with
or without parentheses, the FNC1/GS-separated payload (with or without a symbology
identifier such as `]d2`), a bare 18-digit SSCC. A lot is named by its 32-byte key or a
GS1 code carrying a GTIN and a lot (AI 10). A code that names nothing is a `Gs1Error`,
answered as 400 problem+json with its reason as `code`: `empty`, `invalid_code` (neither
a hex id nor a GS1 code), `missing_serial` (a lot code where an item is needed),
`missing_lot`, or the GS1 reason (`bad_check_digit`, `unknown_ai`, `malformed`...).
"""

from __future__ import annotations

from medledger.sdk.errors import Gs1Error
from medledger.sdk.gs1 import Udi, parse_code

__all__ = ["MAX_CODE_LENGTH", "item_key_of", "lot_key_of"]

MAX_CODE_LENGTH = 512  # a Digital Link URI with its query is the longest form


def _hex_id(text: str) -> bytes | None:
    body = text[2:] if text[:2] in ("0x", "0X") else text
    if len(body) != 64:
        return None
    try:
        return bytes.fromhex(body)
    except ValueError:
        return None


def _udi(text: str) -> Udi:
    if not text.strip():
        raise Gs1Error("empty", "the code is empty")
    if len(text) > MAX_CODE_LENGTH:
        raise Gs1Error("invalid_code", f"a code has at most {MAX_CODE_LENGTH} characters")
    if text.startswith(("/01/", "/00/")):  # a Digital Link path without its host
        text = "https://id.gs1.org" + text
    try:
        return parse_code(text)
    except Gs1Error as exc:
        if exc.code == "malformed" and not any(c in text for c in "(/\x1d]"):
            raise Gs1Error(
                "invalid_code",
                f"{text[:80]!r} is neither a 32-byte hex id nor a GS1 code",
            ) from exc
        raise


def item_key_of(text: str) -> bytes:
    """The 32-byte item id named by `text` (a hex id or a GS1 code of a unit or an SSCC)."""
    key = _hex_id(text.strip())
    return key if key is not None else _udi(text).item_id


def lot_key_of(text: str) -> bytes:
    """The 32-byte lot key named by `text` (a hex key or a GS1 code with a GTIN and a lot)."""
    key = _hex_id(text.strip())
    if key is not None:
        return key
    udi = _udi(text)
    found = udi.lot_key
    if found is None:
        raise Gs1Error("missing_lot", f"{text[:80]!r} names no lot (GTIN 01 with lot 10)")
    return found
