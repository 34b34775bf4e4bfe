"""What the exports read from sealed records (`domain.records`), as the exporter: the body
behind an on-chain commitment (an adverse event's reportHash, a recall's reasonHash), and
the acceptance records of a member's inbound shipments.

The exporter reads only what is shared with it: the member itself, or (`regulator`) the
regulator group. A record that is not stored here or not shared gives no text, and the
export's column stays empty rather than guessed.
"""

from __future__ import annotations

from typing import Any

from medledger.domain import records
from medledger.domain.records import RecordKind
from medledger.domain.services import Services

__all__ = ["acceptance_bodies", "body_of", "text"]

MAX_ACCEPTANCE_RECORDS = 5_000
PAGE = 500


def body_of(
    services: Services, commitment: bytes | None, *, reader: str, regulator: bool
) -> dict[str, Any] | None:
    """The body of the record behind `commitment`, if the exporter may read it."""
    if not commitment or not any(commitment):
        return None
    view = records.by_commitment(services, commitment, reader=reader, regulator=regulator)
    return None if view is None else view.body


def acceptance_bodies(
    services: Services, shipment_ids: set[int], *, reader: str, regulator: bool
) -> dict[int, dict[str, Any]]:
    """The newest acceptance record (kind ACCEPTANCE) the exporter may read for each of
    `shipment_ids`, by the `shipment_id` its body names."""
    found: dict[int, dict[str, Any]] = {}
    for offset in range(0, MAX_ACCEPTANCE_RECORDS, PAGE):
        page = records.list_for(
            services,
            reader=reader,
            regulator=regulator,
            kind=RecordKind.ACCEPTANCE,
            limit=PAGE,
            offset=offset,
        )
        for record in page:
            body = records.read(services, record.id, reader=reader, regulator=regulator).body
            shipment = body.get("shipment_id")
            if isinstance(shipment, int) and shipment in shipment_ids:
                found.setdefault(shipment, body)  # newest first: the first one stands
        if len(page) < PAGE or len(found) == len(shipment_ids):
            break
    return found


def text(body: dict[str, Any] | None, *keys: str) -> str | None:
    """The first of `keys` the body has as text or a number, else None."""
    if body is None:
        return None
    for key in keys:
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    return None
