"""JSON from outside the process, parsed within bounds: size, nesting depth and item count.

Every process imports py-evm and py_ecc, which raise the interpreter's recursion limit to
100,000 (py-evm's call frames recurse). With that limit, the stdlib parser overflows the C
stack on a body of a few hundred KB of `[` and kills the process with SIGSEGV instead of
raising. `loads` therefore measures the nesting of a document before handing it to
`json.loads`: brackets inside strings are removed first, then only brackets are scanned,
so the check costs little next to the parse itself.

    BoundedJsonError(code, message)   code: too_large | too_deep | too_many_items | not_json
"""

from __future__ import annotations

import json
import re
from typing import Any

from medledger.sdk.errors import MedLedgerError

__all__ = ["DEFAULT_MAX_DEPTH", "BoundedJsonError", "loads", "nesting_depth"]

DEFAULT_MAX_DEPTH = 64

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_ITEM = re.compile(rb"[\[{,]")


class BoundedJsonError(MedLedgerError):
    """A JSON document refused before or while parsing; `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def nesting_depth(data: bytes, *, stop_above: int | None = None) -> int:
    """The deepest nesting of arrays and objects in `data` (brackets in strings ignored);
    with `stop_above`, returns as soon as the depth exceeds it."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', data)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    return deepest
        else:
            depth -= 1
    return deepest


def loads(
    data: bytes | str,
    *,
    max_bytes: int,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_items: int | None = None,
) -> Any:
    """`json.loads(data)` if `data` is at most `max_bytes` long, nests arrays and objects at
    most `max_depth` deep and (with `max_items`) holds at most that many values in arrays
    and objects together; otherwise `BoundedJsonError` naming the bound."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise BoundedJsonError(
            "too_large", f"the JSON body is {len(raw):,} bytes; at most {max_bytes:,} are accepted"
        )
    depth = nesting_depth(raw, stop_above=max_depth)
    if depth > max_depth:
        raise BoundedJsonError(
            "too_deep", f"the JSON body nests deeper than {max_depth} levels of arrays and objects"
        )
    if max_items is not None:
        items = sum(1 for _ in _ITEM.finditer(_STRING.sub(b'""', raw)))
        if items > max_items:
            raise BoundedJsonError(
                "too_many_items", f"the JSON body holds more than {max_items:,} values"
            )
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BoundedJsonError("not_json", f"the body is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # unreachable with the depth check; kept as a last line
        raise BoundedJsonError("too_deep", "the JSON body nests too deep") from exc
