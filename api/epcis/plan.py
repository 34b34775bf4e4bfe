"""EPCIS events turned into ledger steps, before anything is sent.

Supported (anything else is a 422 naming the event):

- ObjectEvent ADD commissioning of units: commission, per lot (the lot from the Digital
  Link URI's /10/ or `ilmd` `cbvmda:lotNumber`); of SSCCs: createContainer.
- AggregationEvent ADD (packing): createContainer if the parent is new, then pack;
  DELETE (unpacking): unpack.
- ObjectEvent shipping: ship to the `did:pkh` owning or possessing party in
  `destinationList`; its business transactions and sites are sealed as the shipment's
  delivery note (`api.epcis.notes`), whose commitment the shipment carries.
- ObjectEvent receiving: receive the open shipment holding the EPCs; the listed EPCs are
  accepted and the shipment's others rejected; the temperature comes from a
  `sensorElementList` Temperature report (see `api.epcis.sensors`), else the products'
  storage range.
- ObjectEvent dispensing: dispense; decommissioning or destroying: destroy.

A `Step` runs on any ledger handle (the member's, or `capture.Rehearsal`, which only
calls) and names the items it reads or changes (`touches`), so the capture can tell which
steps depend on earlier steps of the same document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Connection

from medledger.api.epcis.errors import CaptureRefused, UnsupportedEvent
from medledger.api.epcis.identifiers import Epc, member_of_uri, parse_epc
from medledger.api.epcis.notes import shipping_note
from medledger.api.epcis.places import check_locations, check_parties
from medledger.api.epcis.sensors import check_sensor_reports, temperature_range
from medledger.domain import records
from medledger.domain.record_notes import seal_note
from medledger.domain.records import RecordKind, SealedRecord
from medledger.domain.services import Services
from medledger.indexer.queries.devices import company_prefixes
from medledger.indexer.queries.epcis import StorageRange, open_shipment_holding, storage_range
from medledger.indexer.queries.shipments import shipment as shipment_row
from medledger.sdk.errors import Gs1Error
from medledger.sdk.gs1 import company_prefix_of, item_id, lot_key, unit_path
from medledger.sdk.ledger import Ledger, TxResult
from medledger.sdk.model import ItemStatus

__all__ = ["Planner", "Step"]

_PARTY_TYPES = ("owning_party", "possessing_party")
_NO_RANGE = StorageRange(0, 0)  # a shipment of empty containers


@dataclass(frozen=True, slots=True)
class Step:
    """One ledger operation: its name, the item ids it reads or changes, and how to run it
    on a ledger handle."""

    name: str
    touches: frozenset[bytes]
    run: Callable[[Ledger], TxResult[Any]]


class Planner:
    """Plans the events of one document in order, remembering what earlier events of the
    document create and pack (the chain does not know it yet). Checks shape and reads the
    current state; ledger rules are left to the rehearsal."""

    def __init__(self, services: Services, conn: Connection, ledger: Ledger) -> None:
        self.services = services
        self.conn = conn
        self.ledger = ledger
        self._creating: set[bytes] = set()  # containers created by earlier steps
        self._packing: dict[bytes, set[bytes]] = {}  # container -> children packed earlier

    def _epcs(self, index: int, uris: Any) -> list[Epc]:
        if not isinstance(uris, list):
            raise UnsupportedEvent(index, "EPC lists must be arrays of URIs")
        try:
            return [parse_epc(str(u)) for u in uris]
        except Gs1Error as exc:
            raise UnsupportedEvent(index, f"bad EPC: {exc}", gs1_reason=exc.code) from exc

    def plan(self, index: int, event: Any) -> list[Step]:
        """The event's steps: its shape first, then where it happened (one of the member's
        GLNs) and its parties."""
        steps = self._steps(index, event)
        check_locations(self.conn, index, event, self.ledger.address)
        return steps

    def _steps(self, index: int, event: Any) -> list[Step]:
        if not isinstance(event, dict):
            raise UnsupportedEvent(index, "an event must be an object")
        check_sensor_reports(index, event)
        etype = event.get("type")
        if etype == "AggregationEvent":
            return self._aggregation(index, event)
        if etype != "ObjectEvent":
            raise UnsupportedEvent(index, f"{etype} has no ledger operation")
        step = str(event.get("bizStep", "")).rsplit("/", 1)[-1]
        if step not in _OBJECT_STEPS:
            raise UnsupportedEvent(index, f"bizStep {step or 'missing'!r} has no ledger operation")
        if not event.get("epcList"):
            raise UnsupportedEvent(
                index, "the ledger tracks serialised EPCs: an epcList is required"
            )
        epcs = self._epcs(index, event["epcList"])
        ids = [item_id(e.path) for e in epcs]
        touched = frozenset(ids)
        if step == "commissioning":
            if event.get("action") != "ADD":
                raise UnsupportedEvent(index, "commissioning must be action ADD")
            return self._commission(index, event, epcs)
        if step == "shipping":
            receiver = self._party(index, event)
            check_parties(
                self.conn,
                index,
                event,
                sender=self.ledger.address,
                receiver=receiver,
                chain_id=self.services.deployment.chain_id,
            )
            check_locations(self.conn, index, event, self.ledger.address)  # before sealing
            note = shipping_note(self.conn, index, event, receiver=receiver)
            sealed = None
            if note is not None:
                sealed = seal_note(
                    self.services,
                    kind=RecordKind.SHIPMENT_NOTE,
                    author=self.ledger.address,
                    subject_id=ids[0],
                    body=note,
                    readers=[receiver],
                )
            run = partial(_ship, self.services, receiver, ids, sealed)
            return [Step(f"ship to {receiver}", touched, run)]
        if step == "receiving":
            return [self._receive(index, event, ids)]
        if step == "dispensing":
            return [Step("dispense", touched, lambda led: led.dispense(ids))]
        return [Step("destroy", touched, lambda led: led.destroy(ids))]

    def _create(self, index: int, sscc: str) -> Step:
        prefix = self._prefix_for(index, sscc)
        container = item_id(f"/00/{sscc}")
        self._creating.add(container)
        return Step(
            f"createContainer {sscc}",
            frozenset({container}),
            lambda led: led.create_container(sscc, company_prefix=prefix),
        )

    def _commission(self, index: int, event: dict[str, Any], epcs: list[Epc]) -> list[Step]:
        ilmd = event.get("ilmd") if isinstance(event.get("ilmd"), dict) else {}
        assert isinstance(ilmd, dict)
        ilmd_lot = next((str(v) for k, v in ilmd.items() if str(k).endswith("lotNumber")), None)
        steps: list[Step] = []
        lots: dict[tuple[str, str], list[str]] = {}
        for epc in epcs:
            if epc.sscc is not None:
                steps.append(self._create(index, epc.sscc))
                continue
            lot = epc.lot or ilmd_lot
            if lot is None:
                raise UnsupportedEvent(
                    index, "commissioning needs the lot: /10/ in the URI or ilmd cbvmda:lotNumber"
                )
            assert epc.gtin is not None and epc.serial is not None
            lots.setdefault((epc.gtin, lot), []).append(epc.serial)
        for (gtin, lot), serials in lots.items():
            try:
                key = lot_key(gtin, lot)
            except Gs1Error as exc:
                raise UnsupportedEvent(index, f"bad lot: {exc}", gs1_reason=exc.code) from exc
            units = frozenset(item_id(unit_path(gtin, s)) for s in serials)
            name = f"commission {len(serials)} into {lot}"
            steps.append(Step(name, units, partial(_commission, key, serials)))
        return steps

    def _prefix_for(self, index: int, sscc: str) -> str:
        for prefix in company_prefixes(self.conn, self.ledger.address):
            if company_prefix_of(sscc, prefix):
                return prefix
        raise CaptureRefused(
            409,
            "epcis_no_company_prefix",
            f"event {index}: SSCC {sscc} is not under a company prefix of {self.ledger.address}",
            event_index=index,
            applied=[],
        )

    def _party(self, index: int, event: dict[str, Any]) -> str:
        chain_id = self.services.deployment.chain_id
        entries = event.get("destinationList")
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            if str(entry.get("type", "")).rsplit("/", 1)[-1] in _PARTY_TYPES:
                member = member_of_uri(str(entry.get("destination", "")), chain_id)
                if member is not None:
                    return member
        raise UnsupportedEvent(
            index,
            "shipping needs a destinationList owning_party or possessing_party "
            f"did:pkh:eip155:{chain_id}:<member address>",
        )

    def _receive(self, index: int, event: dict[str, Any], ids: list[bytes]) -> Step:
        shipment = open_shipment_holding(self.conn, ids)
        if shipment is None:
            raise CaptureRefused(
                409,
                "epcis_no_open_shipment",
                f"event {index}: none of its EPCs is in an open shipment",
                event_index=index,
                applied=[],
            )
        moved = shipment_row(self.conn, shipment)
        if moved is not None:
            check_parties(
                self.conn,
                index,
                event,
                sender=moved.sender.address,
                receiver=self.ledger.address,
                chain_id=self.services.deployment.chain_id,
            )
        temp_min, temp_max = (
            temperature_range(event) or storage_range(self.conn, shipment) or _NO_RANGE
        )
        shipped = self.ledger.shipped_items(shipment)
        listed = set(ids)
        rejected = [i for i in shipped if i not in listed]
        return Step(
            f"receive shipment {shipment}",
            frozenset(shipped) | listed,
            lambda led: led.receive(
                shipment, temp_min=temp_min, temp_max=temp_max, rejected_ids=rejected
            ),
        )

    def _aggregation(self, index: int, event: dict[str, Any]) -> list[Step]:
        if "parentID" not in event:
            raise UnsupportedEvent(index, "an AggregationEvent needs a parentID")
        action = event.get("action")
        if action not in ("ADD", "DELETE"):
            raise UnsupportedEvent(index, "AggregationEvent OBSERVE has no ledger operation")
        (parent,) = self._epcs(index, [event["parentID"]])
        if parent.sscc is None:
            raise UnsupportedEvent(index, "the parentID must be an SSCC")
        sscc, container = parent.sscc, item_id(parent.path)
        packed = self._packing.setdefault(container, set())
        if action == "DELETE":
            inside = set() if container in self._creating else set(self.ledger.children(container))
            touched = frozenset({container} | inside | packed)
            packed.clear()
            return [Step(f"unpack {sscc}", touched, lambda led: led.unpack(container))]
        children = [item_id(e.path) for e in self._epcs(index, event.get("childEPCs") or [])]
        if not children:
            raise UnsupportedEvent(index, "packing needs childEPCs")
        steps: list[Step] = []
        if container not in self._creating and (
            self.ledger.item(container).status is ItemStatus.NONE
        ):
            steps.append(self._create(index, sscc))
        packed.update(children)
        steps.append(
            Step(
                f"pack {len(children)} into {sscc}",
                frozenset({container, *children}),
                lambda led: led.pack(container, children),
            )
        )
        return steps


def _commission(key: bytes, serials: list[str], led: Ledger) -> TxResult[Any]:
    return led.commission(key, serials)


_OBJECT_STEPS = frozenset(
    {"commissioning", "shipping", "receiving", "dispensing", "decommissioning", "destroying"}
)


def _ship(
    services: Services, receiver: str, ids: list[bytes], note: SealedRecord | None, led: Ledger
) -> TxResult[int]:
    """Ship, carrying the sealed delivery note's commitment; the note is anchored to the
    transaction once one is sent (a rehearsal raises before)."""
    if note is None:
        return led.ship(receiver, ids)
    result = led.ship(receiver, ids, document_hash=note.commitment)
    records.set_anchor(services, note.id, "0x" + bytes(result.receipt["transactionHash"]).hex())
    return result
