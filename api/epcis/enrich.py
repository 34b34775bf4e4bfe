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

__all__ = [
    "NOTED",
    "biz_transaction_uri",
    "biz_transactions",
    "ilmd",
    "location",
    "parties",
    "receipt_sensors",
]

_SENDER_ACTS = (EventKind.SHIPPED, EventKind.CANCELLED)
_RECEIVER_ACTS = (EventKind.RECEIVED, EventKind.REJECTED)
_BUYER_ISSUES = ("po", "poc", "recadv")
NOTED = _SENDER_ACTS + _RECEIVER_ACTS  # events whose place or data the delivery note gives


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


def parties(
    conn: Connection, chain_id: int, moved: ShipmentRow, note: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Sender and receiver as owning and possessing party (custody and ownership move
    together on this ledger); the delivery note's ship-to site as the `location`
    destination."""
    sender = member_uri(chain_id, moved.sender.address)
    receiver = member_uri(chain_id, moved.receiver.address)
    out = {
        "sourceList": [
            {"type": "owning_party", "source": sender},
            {"type": "possessing_party", "source": sender},
        ],
        "destinationList": [
            {"type": "owning_party", "destination": receiver},
            {"type": "possessing_party", "destination": receiver},
        ],
    }
    ship_to = (note or {}).get("ship_to_site")
    if ship_to:
        out["destinationList"].append({"type": "location", "destination": sgln(conn, ship_to)})
    return out


def biz_transaction_uri(gln: str | None, value: str) -> str:
    """A business transaction id as CBV 2.0's URI (`urn:epcglobal:cbv:bt:<GLN>:<id>`, the
    issuer's GLN), a URI given as such kept."""
    if ":" in value:
        return value
    return f"urn:epcglobal:cbv:bt:{gln or '0000000000000'}:{value}"


def biz_transactions(
    conn: Connection, moved: ShipmentRow, note: dict[str, Any]
) -> list[dict[str, str]]:
    """The note's business transactions as a CBV `bizTransactionList`, a bare id made a
    URI under its issuer's GLN: the buyer's (receiver's) for orders and receiving advice,
    the seller's (sender's) otherwise; the note's site, else the primary GLN."""
    found = [
        (str(t["type"]), str(t["id"]))
        for t in note.get("biz_transactions") or []
        if isinstance(t, dict) and "type" in t and "id" in t
    ]
    if not found:
        return []
    seller = note.get("ship_from_site") or primary_gln(conn, moved.sender.address)
    buyer = note.get("ship_to_site") or primary_gln(conn, moved.receiver.address)
    return [
        {
            "type": kind,
            "bizTransaction": biz_transaction_uri(buyer if kind in _BUYER_ISSUES else seller, id_),
        }
        for kind, id_ in found
    ]


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
