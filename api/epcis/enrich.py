"""What an exported ObjectEvent/AggregationEvent carries beyond its EPCs: where it happened
(`readPoint` and `bizLocation`, the SGLN of the acting member's GLN), who owned and
possessed the goods (`sourceList`/`destinationList`, owning and possessing party), the
business transactions the sender gave at ship time (`bizTransactionList`, from the sealed
delivery note: see `domain.delivery_notes`), the receipt's temperatures
(`sensorElementList`: the declared min/max in degrees Celsius, and the seconds outside the
product's range) and the lot master data of a commissioning (`ilmd`).

The acting member: the sender for shipping and cancelling, the receiver for receiving and
the inspection of rejected goods, the holder after the event otherwise. A member without a
GLN gives no location (EPCIS makes both optional); the delivery note's `ship_from_site` or
`ship_to_site`, when given, names the exact site instead of the member's primary GLN.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from medledger.api.epcis.identifiers import member_uri
from medledger.domain.sites import sgln
from medledger.indexer.items import EventKind
from medledger.indexer.queries.shipments import ShipmentRow
from medledger.indexer.queries.sites import primary_gln
from medledger.sdk.dates import day_of

__all__ = ["biz_transaction_uri", "ilmd", "location", "parties", "receipt_sensors"]

_SENDER_ACTS = (EventKind.SHIPPED, EventKind.CANCELLED)
_RECEIVER_ACTS = (EventKind.RECEIVED, EventKind.REJECTED)


def location(
    conn: Connection,
    kind: EventKind,
    *,
    holder: str,
    moved: ShipmentRow | None,
    note: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`readPoint` and `bizLocation` of the event ({} without a GLN to name)."""
    actor, site = holder, None
    if moved is not None and kind in _SENDER_ACTS:
        actor, site = moved.sender.address, (note or {}).get("ship_from_site")
    elif moved is not None and kind in _RECEIVER_ACTS:
        actor, site = moved.receiver.address, (note or {}).get("ship_to_site")
    gln = site or primary_gln(conn, actor)
    if gln is None:
        return {}
    uri = sgln(conn, gln)
    return {"readPoint": {"id": uri}, "bizLocation": {"id": uri}}


def parties(chain_id: int, moved: ShipmentRow) -> dict[str, Any]:
    """Sender and receiver as owning and possessing party (custody and ownership move
    together on this ledger)."""
    sender = member_uri(chain_id, moved.sender.address)
    receiver = member_uri(chain_id, moved.receiver.address)
    return {
        "sourceList": [
            {"type": "owning_party", "source": sender},
            {"type": "possessing_party", "source": sender},
        ],
        "destinationList": [
            {"type": "owning_party", "destination": receiver},
            {"type": "possessing_party", "destination": receiver},
        ],
    }


def biz_transaction_uri(gln: str | None, value: str) -> str:
    """A business transaction id as CBV 2.0's URI (`urn:epcglobal:cbv:bt:<GLN>:<id>`, the
    issuer's GLN), a URI given as such kept."""
    if ":" in value:
        return value
    return f"urn:epcglobal:cbv:bt:{gln or '0000000000000'}:{value}"


def receipt_sensors(moved: ShipmentRow) -> list[dict[str, Any]]:
    """The receipt's declared temperatures (tenths of a degree on chain) as a Temperature
    report in CEL, and the excursion seconds, if the receipt recorded any."""
    if moved.temp_min is None or moved.temp_max is None:
        return []
    report: dict[str, Any] = {
        "type": "Temperature",
        "minValue": moved.temp_min / 10,
        "maxValue": moved.temp_max / 10,
        "uom": "CEL",
    }
    if moved.excursion_seconds:
        report["medledger:excursionSeconds"] = moved.excursion_seconds
    return [{"sensorReport": [report]}]


def ilmd(lot_number: str, *, expiry: int | None, production: int | None) -> dict[str, Any]:
    """CBV master data of a commissioned lot: lot number, expiry date and, when recorded,
    the production date (GS1 AI 11; no CBV term, so ours)."""
    out: dict[str, Any] = {"cbvmda:lotNumber": lot_number}
    if expiry:
        out["cbvmda:itemExpirationDate"] = day_of(expiry).isoformat()
    if production:
        out["medledger:productionDate"] = day_of(production).isoformat()
    return out
