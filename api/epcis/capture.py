"""EPCIS capture: a partner's EPCIS 2.0 document turned into signed ledger operations.

Supported (anything else is a 422 naming the event):

- ObjectEvent ADD commissioning of units: commission, per lot (the lot from the Digital
  Link URI's /10/ or `ilmd` `cbvmda:lotNumber`); of SSCCs: createContainer.
- AggregationEvent ADD (packing): createContainer if the parent is new, then pack;
  DELETE (unpacking): unpack.
- ObjectEvent shipping: ship to the `did:pkh` owning or possessing party in
  `destinationList`.
- ObjectEvent receiving: receive the open shipment holding the EPCs; the listed EPCs are
  accepted and the shipment's others rejected; the temperature comes from a
  `sensorElementList` Temperature report, else the products' storage range.
- ObjectEvent dispensing: dispense; decommissioning or destroying: destroy.

Every event is claimed by its hash (SHA-256 of its canonical JSON, `recordTime` left out)
before it is applied, so capture is idempotent. Events apply in order; the first one a
ledger rule refuses stops the document with a 409/422 naming the rule and the event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import Connection

from api.epcis.errors import CaptureRefused, InvalidDocument, UnsupportedEvent
from api.epcis.identifiers import Epc, member_of_uri, parse_epc
from api.epcis.schema import schema_errors
from api.epcis.store import CaptureStore
from api.errors import contract_error_status
from api.services import Services
from indexer.db import Sql
from indexer.items import EventKind
from sdk.errors import ContractError, Gs1Error
from sdk.gs1 import company_prefix_of, item_id, lot_key
from sdk.ledger import Ledger, TxResult
from sdk.model import ItemStatus

__all__ = ["CapturedEvent", "capture_document", "event_hash"]

Step = Callable[[], TxResult[Any]]
_PARTY_TYPES = ("owning_party", "possessing_party")


def event_hash(event: dict[str, Any]) -> str:
    body = {k: v for k, v in event.items() if k != "recordTime"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "ni:///sha-256;" + hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class CapturedEvent:
    index: int
    event_hash: str
    status: str  # "captured" or "duplicate"
    operations: list[str] = field(default_factory=list)
    tx_hashes: list[str] = field(default_factory=list)


@dataclass
class _Plan:
    operations: list[tuple[str, Step]]


class _Planner:
    """Turns one EPCIS event into ledger steps for `ledger` (checks shape, not rules)."""

    def __init__(self, services: Services, conn: Connection, ledger: Ledger) -> None:
        self.services = services
        self.sql = Sql(conn)
        self.ledger = ledger

    def epcs(self, index: int, uris: list[str]) -> list[Epc]:
        try:
            return [parse_epc(u) for u in uris]
        except Gs1Error as exc:
            raise UnsupportedEvent(index, f"bad EPC: {exc}", gs1_reason=exc.code) from exc

    def plan(self, index: int, event: dict[str, Any]) -> _Plan:
        etype = event.get("type")
        if etype == "AggregationEvent":
            return self._aggregation(index, event)
        if etype != "ObjectEvent":
            raise UnsupportedEvent(index, f"{etype} has no ledger operation")
        if "epcList" not in event or not event["epcList"]:
            raise UnsupportedEvent(
                index, "the ledger tracks serialised EPCs: an epcList is required"
            )
        epcs = self.epcs(index, list(event["epcList"]))
        ids = [e.path for e in epcs]
        step = str(event.get("bizStep", "")).rsplit("/", 1)[-1]
        led = self.ledger
        item_ids = [_id(p) for p in ids]
        if step == "commissioning":
            if event.get("action") != "ADD":
                raise UnsupportedEvent(index, "commissioning must be action ADD")
            return _Plan(self._commission(index, event, epcs))
        if step == "shipping":
            receiver = self._party(index, event)
            return _Plan([(f"ship to {receiver}", lambda: led.ship(receiver, item_ids))])
        if step == "receiving":
            return _Plan([self._receive(index, event, item_ids)])
        if step == "dispensing":
            return _Plan([("dispense", lambda: led.dispense(item_ids))])
        if step in ("decommissioning", "destroying"):
            return _Plan([("destroy", lambda: led.destroy(item_ids))])
        raise UnsupportedEvent(index, f"bizStep {step or 'missing'!r} has no ledger operation")

    def _commission(
        self, index: int, event: dict[str, Any], epcs: list[Epc]
    ) -> list[tuple[str, Step]]:
        led = self.ledger
        ilmd = event.get("ilmd") or {}
        ilmd_lot = next((str(v) for k, v in ilmd.items() if str(k).endswith("lotNumber")), None)
        steps: list[tuple[str, Step]] = []
        lots: dict[tuple[str, str], list[str]] = {}
        for epc in epcs:
            if epc.sscc is not None:
                prefix = self._prefix_for(index, epc.sscc)
                sscc = epc.sscc
                create = partial(led.create_container, sscc, company_prefix=prefix)
                steps.append((f"createContainer {sscc}", create))
                continue
            lot = epc.lot or ilmd_lot
            if lot is None:
                raise UnsupportedEvent(
                    index, "commissioning needs the lot: /10/ in the URI or ilmd cbvmda:lotNumber"
                )
            assert epc.gtin is not None and epc.serial is not None
            lots.setdefault((epc.gtin, lot), []).append(epc.serial)
        for (gtin, lot), serials in lots.items():
            key = lot_key(gtin, lot)
            commission = partial(led.commission, key, serials)
            steps.append((f"commission {len(serials)} into {lot}", commission))
        return steps

    def _prefix_for(self, index: int, sscc: str) -> str:
        rows = self.sql.rows(
            "SELECT cp.prefix FROM company_prefixes cp "
            "JOIN organisations o ON o.id = cp.organisation_id WHERE o.address = ?",
            (self.ledger.address,),
        )
        for (prefix,) in rows:
            if company_prefix_of(sscc, str(prefix)):
                return str(prefix)
        raise CaptureRefused(
            409,
            "epcis_no_company_prefix",
            f"event {index}: SSCC {sscc} is not under a company prefix of {self.ledger.address}",
            event_index=index,
        )

    def _party(self, index: int, event: dict[str, Any]) -> str:
        chain_id = self.services.deployment.chain_id
        for entry in event.get("destinationList") or []:
            if str(entry.get("type", "")).rsplit("/", 1)[-1] in _PARTY_TYPES:
                member = member_of_uri(str(entry.get("destination", "")), chain_id)
                if member is not None:
                    return member
        raise UnsupportedEvent(
            index,
            "shipping needs a destinationList owning_party or possessing_party "
            f"did:pkh:eip155:{chain_id}:<member address>",
        )

    def _receive(
        self, index: int, event: dict[str, Any], item_ids: list[bytes]
    ) -> tuple[str, Step]:
        marks = ",".join("?" * len(item_ids))
        found = self.sql.one(
            "SELECT MAX(e.shipment_id) FROM item_events e JOIN items i ON i.id = e.item_id "
            f"WHERE i.item_key IN ({marks}) AND e.kind = ? AND i.status = ?",
            [*item_ids, int(EventKind.SHIPPED), int(ItemStatus.IN_TRANSIT)],
        )
        if found is None:
            raise CaptureRefused(
                409,
                "epcis_no_open_shipment",
                f"event {index}: none of its EPCs is in an open shipment",
                event_index=index,
            )
        shipment = int(found)
        temps = _temperatures(event) or self._storage_range(shipment)
        led = self.ledger

        def receive() -> TxResult[Any]:
            shipped = led.shipped_items(shipment)
            listed = set(item_ids)
            rejected = [i for i in shipped if i not in listed]
            return led.receive(
                shipment, temp_min=temps[0], temp_max=temps[1], rejected_ids=rejected
            )

        return f"receive shipment {shipment}", receive

    def _storage_range(self, shipment: int) -> tuple[int, int]:
        row = self.sql.rows(
            "SELECT MAX(p.temp_min), MIN(p.temp_max) FROM item_events e "
            "JOIN items i ON i.id = e.item_id JOIN lots l ON l.lot_index = i.lot_index "
            "JOIN products p ON p.gtin = l.gtin WHERE e.shipment_id = ? AND e.kind = ?",
            (shipment, int(EventKind.SHIPPED)),
        )
        if not row or row[0][0] is None:
            return (0, 0)
        return int(row[0][0]), int(row[0][1])

    def _aggregation(self, index: int, event: dict[str, Any]) -> _Plan:
        if "parentID" not in event:
            raise UnsupportedEvent(index, "an AggregationEvent needs a parentID")
        (parent,) = self.epcs(index, [str(event["parentID"])])
        if parent.sscc is None:
            raise UnsupportedEvent(index, "the parentID must be an SSCC")
        container = _id(parent.path)
        led = self.ledger
        if event.get("action") == "DELETE":
            return _Plan([(f"unpack {parent.sscc}", lambda: led.unpack(container))])
        if event.get("action") != "ADD":
            raise UnsupportedEvent(index, "AggregationEvent OBSERVE has no ledger operation")
        children = [_id(e.path) for e in self.epcs(index, list(event.get("childEPCs") or []))]
        if not children:
            raise UnsupportedEvent(index, "packing needs childEPCs")
        steps: list[tuple[str, Step]] = []
        if led.item(container).status is ItemStatus.NONE:
            prefix = self._prefix_for(index, parent.sscc)
            sscc = parent.sscc
            steps.append(
                (
                    f"createContainer {sscc}",
                    lambda: led.create_container(sscc, company_prefix=prefix),
                )
            )
        steps.append(
            (f"pack {len(children)} into {parent.sscc}", lambda: led.pack(container, children))
        )
        return _Plan(steps)


def _id(path: str) -> bytes:
    return item_id(path)


_OBJECT_STEPS = frozenset(
    {"commissioning", "shipping", "receiving", "dispensing", "decommissioning", "destroying"}
)


def _check_shape(index: int, event: dict[str, Any]) -> None:
    """Refuse, before anything is applied, an event no ledger operation can express."""
    etype = event.get("type")
    if etype == "AggregationEvent":
        if "parentID" not in event:
            raise UnsupportedEvent(index, "an AggregationEvent needs a parentID")
        if event.get("action") not in ("ADD", "DELETE"):
            raise UnsupportedEvent(index, "AggregationEvent OBSERVE has no ledger operation")
        return
    if etype != "ObjectEvent":
        raise UnsupportedEvent(index, f"{etype} has no ledger operation")
    step = str(event.get("bizStep", "")).rsplit("/", 1)[-1]
    if step not in _OBJECT_STEPS:
        raise UnsupportedEvent(index, f"bizStep {step or 'missing'!r} has no ledger operation")
    if not event.get("epcList"):
        raise UnsupportedEvent(index, "the ledger tracks serialised EPCs: an epcList is required")
    for uri in event["epcList"]:
        try:
            parse_epc(str(uri))
        except Gs1Error as exc:
            raise UnsupportedEvent(index, f"bad EPC: {exc}", gs1_reason=exc.code) from exc


def _temperatures(event: dict[str, Any]) -> tuple[int, int] | None:
    """(min, max) in tenths of a degree Celsius from Temperature sensor reports."""
    values: list[float] = []
    for element in event.get("sensorElementList") or []:
        for report in element.get("sensorReport") or []:
            if not str(report.get("type", "")).endswith("Temperature"):
                continue
            for key in ("value", "minValue", "maxValue"):
                if isinstance(report.get(key), int | float):
                    values.append(float(report[key]))
    if not values:
        return None
    return round(min(values) * 10), round(max(values) * 10)


def capture_document(
    services: Services,
    conn: Connection,
    ledger: Ledger,
    store: CaptureStore,
    document: Any,
) -> list[CapturedEvent]:
    """Validate the document and the shape of every event, then apply new events in order."""
    errors = schema_errors(services, document)
    if not errors and document.get("type") != "EPCISDocument":
        errors = [{"path": "$.type", "message": "capture takes an EPCISDocument"}]
    if errors:
        raise InvalidDocument(errors)
    events: list[dict[str, Any]] = list(document["epcisBody"]["eventList"])
    out: list[CapturedEvent] = []
    for index, event in enumerate(events):
        _check_shape(index, event)
    planner = _Planner(services, conn, ledger)
    for index, event in enumerate(events):
        digest = event_hash(event)
        if not store.claim(digest, ledger.address):
            out.append(CapturedEvent(index, digest, "duplicate", [], store.tx_hashes(digest)))
            continue
        result = CapturedEvent(index, digest, "captured")
        try:
            for name, step in planner.plan(index, event).operations:
                tx = step()
                result.operations.append(name)
                result.tx_hashes.append("0x" + bytes(tx.receipt["transactionHash"]).hex())
        except ContractError as exc:
            store.release(digest)
            raise CaptureRefused(
                contract_error_status(exc),
                exc.name,
                f"event {index}: {exc}",
                event_index=index,
                applied=result.operations,
                captured=[e.event_hash for e in out if e.status == "captured"],
            ) from exc
        except BaseException:
            store.release(digest)
            raise
        store.done(digest, result.tx_hashes)
        out.append(result)
    return out
