"""A captured shipping event's business data, kept as the shipment's sealed delivery note
(`domain.delivery_notes`), never on chain: its `bizTransactionList` (CBV type and id, the
id as given), its `bizLocation` (else `readPoint`) as the ship-from site (already checked
to be the capturing member's by `places.check_locations`) and a `destinationList` entry of
type `location` as the ship-to site (a GLN of the receiver).

Refusals (422, naming the event and field): `epcis_biz_transaction_invalid` (a type that is
no CBV business transaction type, an id empty or longer than MAX_BIZ_ID, more than
MAX_BIZ_TRANSACTIONS entries), `epcis_location_not_theirs` (a ship-to location that is not
the receiver's).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from medledger.api.epcis.errors import CaptureRefused
from medledger.domain.delivery_notes import (
    BIZ_TRANSACTION_TYPES,
    MAX_BIZ_ID,
    MAX_BIZ_TRANSACTIONS,
)
from medledger.domain.sites import parse_sgln
from medledger.indexer.queries.sites import gln_owner

__all__ = ["shipping_note"]


def _refuse(index: int, code: str, field: str, detail: str) -> CaptureRefused:
    return CaptureRefused(
        422, code, f"event {index}: {detail}", event_index=index, field=field, applied=[]
    )


def _bare(value: Any) -> str:
    return str(value).rsplit("/", 1)[-1].split("-", 1)[-1]


def _transactions(index: int, event: dict[str, Any]) -> list[dict[str, str]]:
    given = event.get("bizTransactionList") or []
    field = f"$.epcisBody.eventList[{index}].bizTransactionList"
    if not isinstance(given, list) or len(given) > MAX_BIZ_TRANSACTIONS:
        raise _refuse(
            index,
            "epcis_biz_transaction_invalid",
            field,
            f"at most {MAX_BIZ_TRANSACTIONS} business transactions",
        )
    found: list[dict[str, str]] = []
    for n, entry in enumerate(given):
        kind = _bare(entry.get("type", "")) if isinstance(entry, dict) else ""
        value = entry.get("bizTransaction") if isinstance(entry, dict) else None
        if kind not in BIZ_TRANSACTION_TYPES:
            raise _refuse(
                index,
                "epcis_biz_transaction_invalid",
                f"{field}[{n}].type",
                f"business transaction type {kind or 'missing'!r} is none of CBV's "
                f"({', '.join(BIZ_TRANSACTION_TYPES)})",
            )
        if not isinstance(value, str) or not 0 < len(value) <= MAX_BIZ_ID or value != value.strip():
            raise _refuse(
                index,
                "epcis_biz_transaction_invalid",
                f"{field}[{n}].bizTransaction",
                f"a business transaction id is 1..{MAX_BIZ_ID} characters without "
                "surrounding spaces",
            )
        found.append({"type": kind, "id": value})
    return found


def _ship_to(conn: Connection, index: int, event: dict[str, Any], receiver: str) -> str | None:
    entries = event.get("destinationList")
    for n, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict) or _bare(entry.get("type", "")) != "location":
            continue
        field = f"$.epcisBody.eventList[{index}].destinationList[{n}].destination"
        try:
            gln = parse_sgln(str(entry.get("destination", "")))
        except ValueError as exc:
            raise _refuse(index, "epcis_location_invalid", field, str(exc)) from exc
        owner = gln_owner(conn, gln)
        if owner is None or owner[0].lower() != receiver.lower():
            raise _refuse(
                index,
                "epcis_location_not_theirs",
                field,
                f"ship-to location GLN {gln} is not a GLN or site of the receiver {receiver}",
            )
        return gln
    return None


def shipping_note(
    conn: Connection, index: int, event: dict[str, Any], *, receiver: str
) -> dict[str, Any] | None:
    """The delivery note body a shipping event gives (None: nothing to keep)."""
    note: dict[str, Any] = {}
    transactions = _transactions(index, event)
    if transactions:
        note["biz_transactions"] = transactions
    for key in ("bizLocation", "readPoint"):
        place = event.get(key)
        if isinstance(place, dict) and "id" in place:
            try:
                note["ship_from_site"] = parse_sgln(str(place["id"]))
            except ValueError:  # refused by places.check_locations
                pass
            break
    ship_to = _ship_to(conn, index, event, receiver)
    if ship_to is not None:
        note["ship_to_site"] = ship_to
    return note or None
