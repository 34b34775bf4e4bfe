"""An EPCIS document as a partner posts it, read within bounds before any other work.

The body is read in chunks and refused as soon as it passes MAX_BYTES (413, nothing more
is buffered); it is parsed by `sdk.bounded_json` (nesting at most MAX_DEPTH, at most
MAX_VALUES values) and its event list counted (at most MAX_EVENTS) before the schema
check, whose cost grows with the document. Every refusal is a DocumentRefused with the
code the API's HTTP guard gives the same bound (`body_too_large`, `json_too_deep`), or
`json_too_many_values`, `invalid_json`, `epcis_too_many_events`. The guard's own limits
for this route (body size, depth) are looser or equal, so these are the ones that bind.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from medledger.api.epcis.errors import DocumentRefused
from medledger.sdk.bounded_json import BoundedJsonError, loads

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_EVENTS", "MAX_VALUES", "parse_document", "read_body"]

MAX_BYTES = 1 << 20  # 1 MiB
MAX_DEPTH = 32
MAX_VALUES = 100_000
MAX_EVENTS = 500
# sdk.bounded_json's codes as the API's HTTP guard (`api.http_guard`) names the same bounds.
_REFUSALS = {
    "too_large": (413, "body_too_large"),
    "too_deep": (400, "json_too_deep"),
    "too_many_items": (413, "json_too_many_values"),
    "not_json": (400, "invalid_json"),
}


def _too_large(size: int) -> DocumentRefused:
    return DocumentRefused(
        413,
        "body_too_large",
        f"the EPCIS document is {size:,} bytes or more; at most {MAX_BYTES:,} are accepted",
        max_bytes=MAX_BYTES,
    )


async def read_body(request: Request) -> bytes:
    """The request body, refused (413) past MAX_BYTES without reading the rest."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise _too_large(int(declared))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BYTES:
            raise _too_large(len(body))
    return bytes(body)


def parse_document(body: bytes) -> Any:
    """The JSON document in `body`, within the bounds above (DocumentRefused otherwise)."""
    try:
        document = loads(body, max_bytes=MAX_BYTES, max_depth=MAX_DEPTH, max_items=MAX_VALUES)
    except BoundedJsonError as exc:
        status, code = _REFUSALS.get(exc.code, (400, exc.code))
        raise DocumentRefused(status, code, str(exc)) from exc
    body_part = document.get("epcisBody") if isinstance(document, dict) else None
    events = body_part.get("eventList") if isinstance(body_part, dict) else None
    if isinstance(events, list) and len(events) > MAX_EVENTS:
        raise DocumentRefused(
            413,
            "epcis_too_many_events",
            f"the document holds {len(events):,} events; at most {MAX_EVENTS} per capture",
            max_events=MAX_EVENTS,
        )
    return document
