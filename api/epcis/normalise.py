"""EPCIS events reduced to what the ledger records, so a captured document and the export of
what it recorded compare equal: `normalise(capture input) == normalise(export)` for every
event the ledger expressed.

Kept: the type, action and bizStep (CBV URIs reduced to their bare term); the EPCs as
ledger item paths (`/01/<gtin>/21/<serial>`, `/00/<sscc>`, whatever URI form named them, a
Digital Link lot qualifier dropped: the unit's id does not hold it); readPoint and
bizLocation as GLNs (an SGLN's extension dropped); the owning and possessing parties as
member addresses (a `did:pkh` URI) or GLNs, sorted; `location` destinations (the ship-to
site) as GLNs; Temperature sensor reports as their
min/max in degrees Celsius (one decimal, as the ledger keeps tenths); the ilmd lot number;
the business transactions as (type, id), sorted (a CBV `urn:epcglobal:cbv:bt:<GLN>:<id>`
as its id: the ledger derives the issuer's GLN).

Dropped: eventID, eventTime, eventTimeZoneOffset, recordTime and `medledger:` extensions
(the ledger's block time and reference replace the capture's), the disposition (derived by
the ledger from the item's state), other ilmd master data (the lot's, read from the chain)
and every other field the ledger does not keep.
"""

from __future__ import annotations

from typing import Any

from medledger.api.epcis.identifiers import parse_epc
from medledger.api.epcis.sensors import MEASURES, measurement
from medledger.domain.sites import parse_sgln

__all__ = ["normalise"]


def _bare(value: Any) -> str:
    return str(value).rsplit("/", 1)[-1].split("-", 1)[-1]


def _transaction_id(uri: str) -> str:
    """A CBV `urn:epcglobal:cbv:bt:<GLN>:<id>` as its id (the export names the issuer's
    GLN itself), any other value as given."""
    head = "urn:epcglobal:cbv:bt:"
    if uri.startswith(head) and uri.count(":") >= 5:
        return uri[len(head) :].split(":", 1)[1]
    return uri


def _party(uri: str) -> str:
    if uri.startswith("did:pkh:"):
        return uri.rsplit(":", 1)[-1].lower()
    try:
        return parse_sgln(uri)
    except ValueError:
        return uri


def _parties(event: dict[str, Any], key: str, name: str) -> list[str]:
    entries = event.get(key) if isinstance(event.get(key), list) else []
    return sorted(
        {
            _party(str(e.get(name, "")))
            for e in entries or []
            if isinstance(e, dict)
            and _bare(e.get("type", "")) in ("owning_party", "possessing_party")
        }
    )


def _locations(event: dict[str, Any], key: str, name: str) -> list[str]:
    entries = event.get(key) if isinstance(event.get(key), list) else []
    return sorted(
        {
            _party(str(e.get(name, "")))
            for e in entries or []
            if isinstance(e, dict) and _bare(e.get("type", "")) == "location"
        }
    )


def _temperatures(event: dict[str, Any]) -> list[tuple[float, float]]:
    measure = MEASURES["Temperature"]
    found: list[tuple[float, float]] = []
    for element in event.get("sensorElementList") or []:
        for report in element.get("sensorReport") or [] if isinstance(element, dict) else []:
            if not isinstance(report, dict) or measurement(report.get("type", "")) != "Temperature":
                continue
            uom = report.get("uom") if isinstance(report.get("uom"), str) else None
            low = report.get("minValue", report.get("value"))
            high = report.get("maxValue", report.get("value"))
            if isinstance(low, int | float) and isinstance(high, int | float):
                a, b = measure.canonical(uom, float(low)), measure.canonical(uom, float(high))
                if a is not None and b is not None:
                    found.append((round(a, 1), round(b, 1)))
    return sorted(found)


def normalise(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the ledger records it (module doc); raises Gs1Error for an EPC that is
    no GS1 code."""
    out: dict[str, Any] = {
        "type": event.get("type"),
        "action": event.get("action"),
        "bizStep": _bare(event.get("bizStep", "")),
    }
    if "parentID" in event:
        out["parentID"] = parse_epc(str(event["parentID"])).path
    for key in ("epcList", "childEPCs"):
        if event.get(key):
            out[key] = sorted(parse_epc(str(e)).path for e in event[key])
    for key in ("readPoint", "bizLocation"):
        place = event.get(key)
        if isinstance(place, dict) and "id" in place:
            out[key] = parse_sgln(str(place["id"]))
    sources = _parties(event, "sourceList", "source")
    destinations = _parties(event, "destinationList", "destination")
    if sources:
        out["sources"] = sources
    if destinations:
        out["destinations"] = destinations
    ship_to = _locations(event, "destinationList", "destination")
    if ship_to:
        out["destinationLocations"] = ship_to
    temperatures = _temperatures(event)
    if temperatures:
        out["temperatures"] = temperatures
    ilmd = event.get("ilmd") if isinstance(event.get("ilmd"), dict) else {}
    lot = next((v for k, v in (ilmd or {}).items() if str(k).endswith("lotNumber")), None)
    if lot is not None:
        out["lotNumber"] = str(lot)
    transactions = event.get("bizTransactionList") or []
    if transactions:
        out["bizTransactions"] = sorted(
            (_bare(t.get("type", "")), _transaction_id(str(t.get("bizTransaction", ""))))
            for t in transactions
            if isinstance(t, dict)
        )
    return out
