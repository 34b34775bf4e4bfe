"""Shipments: rows naming the file's own shipment reference, the receiver (address or
GLN) and either the code of a unit, case or pallet or a GTIN, lot and quantity; rows with
one reference form one shipment, written with the use case of `POST /v1/partner/shipments`
(`domain.items.ship`), one shipment per chunk, its reference (and PO/DESADV/invoice
numbers) sealed in its delivery note.

Resumed, a chunk first asks the chain whether its shipment left: its first item no longer
Active with the sender, or its first lot's available quantity down by what it ships since
just before the first send; then it is not shipped again."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Connection
from web3 import Web3

from medledger.domain import items, lot_custody
from medledger.domain.auth import Member
from medledger.domain.bulk_import.files import Row
from medledger.domain.bulk_import.plan import Chunk, Payload, Plan, duplicate_check
from medledger.domain.bulk_import.problems import Cells
from medledger.domain.chain import reader
from medledger.domain.codes import item_key_of
from medledger.domain.partner_schemas import ShipIn
from medledger.domain.services import Services
from medledger.sdk.errors import Gs1Error
from medledger.sdk.gs1 import lot_key
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import ItemStatus

__all__ = ["MAX_ENTRIES", "Shipments"]

MAX_ENTRIES = 500  # items and lots of one shipment (`ShipIn`)
NOTE_FIELDS = (("po", "PO"), ("desadv", "DESADV"), ("invoice", "INV"))


@dataclass(slots=True)
class _Draft:
    first_row: int
    receiver: str
    rows: int = 0
    item_ids: list[str] = field(default_factory=list)
    lots: dict[str, int] = field(default_factory=dict)  # lot key hex → quantity
    notes: dict[str, str] = field(default_factory=dict)


class Shipments:
    name = "shipments"
    columns = {
        "reference": "reference",
        "发货单号": "reference",
        "receiver": "receiver",
        "收货方": "receiver",
        "code": "code",
        "追溯码": "code",
        "gtin": "gtin",
        "GTIN": "gtin",
        "产品标识": "gtin",
        "lot": "lot",
        "批号": "lot",
        "quantity": "quantity",
        "数量": "quantity",
        "po": "po",
        "采购订单号": "po",
        "desadv": "desadv",
        "发货通知单号": "desadv",
        "invoice": "invoice",
        "发票号": "invoice",
    }

    def plan(
        self, services: Services, conn: Connection, *, member: Member, rows: list[Row]
    ) -> Plan:
        plan = Plan()
        ledger = reader(services)
        receivers: dict[str, str | None] = {}  # cell → the address, None if refused
        drafts: dict[str, _Draft] = {}
        seen: dict[bytes, int] = {}
        wanted: dict[bytes, int] = {}  # lot key → quantity over the whole file
        available: dict[bytes, int] = {}
        for row in rows:
            cells = Cells(row)
            reference = cells.text("reference")
            receiver = self._receiver(ledger, member, cells, receivers)
            code = cells.text("code", required=False)
            has_lot = any(row.cells.get(k) for k in ("gtin", "lot", "quantity"))
            key: bytes | None = None
            quantity: int | None = None
            if code and has_lot:
                cells.refuse("code", "code_or_lot", code)
            elif not code and not has_lot:
                cells.refuse("code", "code_or_lot")
            elif code:
                key = self._item(ledger, member, cells, code)
            else:
                gtin, lot = cells.gtin(), cells.ledger_value("lot")
                quantity = cells.quantity()
                if gtin and lot:
                    key = lot_key(gtin, lot)
                    if key not in available:
                        found = ledger.lot(key)
                        available[key] = (
                            -1
                            if found is None
                            else ledger.lot_balance(found.lot_index, member.address)[0]
                        )
                    if available[key] < 0:
                        cells.refuse("lot", "lot_not_on_ledger", lot)
            if key is not None:
                first = duplicate_check(seen, key, row.number)
                if first is not None:
                    cells.refuse("code" if code else "lot", "duplicate_in_file", code, first)
            draft = drafts.get(reference)
            if reference and receiver and draft is not None and draft.receiver != receiver:
                cells.refuse("receiver", "receiver_differs", other=draft.first_row)
            if reference and draft is None and receiver:
                draft = drafts[reference] = _Draft(row.number, receiver)
            if draft is not None and not cells.problems and key is not None:
                draft.rows += 1
                if quantity is None:
                    draft.item_ids.append("0x" + key.hex())
                else:
                    draft.lots[key.hex()] = quantity
                    wanted[key] = wanted.get(key, 0) + quantity
                    if wanted[key] > available[key]:
                        cells.refuse("quantity", "quantity_unavailable", str(available[key]))
                for name, _ in NOTE_FIELDS:
                    value = cells.text(name, required=False)
                    if value and draft.notes.setdefault(name, value) != value:
                        cells.refuse(name, "note_differs", value, draft.first_row)
                if len(draft.item_ids) + len(draft.lots) == MAX_ENTRIES + 1:
                    cells.refuse("reference", "shipment_too_large", reference, MAX_ENTRIES)
            plan.problems.extend(cells.problems)
        if not plan.problems:
            plan.chunks = [_chunk(ref, d) for ref, d in drafts.items()]
        return plan

    @staticmethod
    def _receiver(
        ledger: Ledger, member: Member, cells: Cells, known: dict[str, str | None]
    ) -> str:
        value = cells.text("receiver")
        if not value:
            return ""
        if value not in known:
            known[value] = _member_of(ledger, value)
        address = known[value]
        if address is None:
            cells.refuse("receiver", "receiver_unknown", value)
        elif address == member.address:
            cells.refuse("receiver", "receiver_is_sender", value)
        return address or ""

    @staticmethod
    def _item(ledger: Ledger, member: Member, cells: Cells, code: str) -> bytes | None:
        try:
            key = item_key_of(code)
        except Gs1Error:
            cells.refuse("code", "malformed", code)
            return None
        state = ledger.item(key)
        held = state.holder == member.address and state.status is ItemStatus.ACTIVE
        if not held or state.parent_id is not None:
            code_ = "item_packed" if held else "item_not_held"
            cells.refuse("code", code_, code)
            return None
        return key

    def before(self, services: Services, *, member: Member, payload: Payload) -> Payload:
        lots = payload["lots"]
        if payload["item_ids"] or not lots:
            return {}
        key = bytes.fromhex(lots[0]["lot_key"])
        return {"available": lot_custody.available(services, holder=member.address, lot_key=key)}

    def send(
        self,
        services: Services,
        *,
        member: Member,
        payload: Payload,
        before: Payload,
        resumed: bool,
    ) -> str | None:
        if resumed and _left(services, member, payload, before):
            return None
        order = ShipIn.model_validate(
            {
                "receiver": payload["receiver"],
                "item_ids": payload["item_ids"],
                "lots": payload["lots"],
                "record": {"reference": payload["reference"], "note": payload["note"]},
            }
        )
        return items.ship(services, member=member, order=order).tx_hash


def _member_of(ledger: Ledger, value: str) -> str | None:
    """The active member an address or a GLN names, else None."""
    if value.isdigit() and len(value) == 13:
        owner, _site = ledger.gln_owner(value)
        address = owner if int(owner, 16) else None
    elif value.startswith("0x") and len(value) == 42:
        try:
            int(value, 16)
        except ValueError:
            return None
        address = Web3.to_checksum_address(value)
    else:
        return None
    return address if address is not None and ledger.is_active(address) else None


def _left(services: Services, member: Member, payload: Payload, before: Payload) -> bool:
    """Whether the chunk's shipment already left the sender."""
    ledger = reader(services)
    if payload["item_ids"]:
        state = ledger.item(bytes.fromhex(payload["item_ids"][0][2:]))
        return not (state.holder == member.address and state.status is ItemStatus.ACTIVE)
    first = payload["lots"][0]
    now = lot_custody.available(
        services, holder=member.address, lot_key=bytes.fromhex(first["lot_key"])
    )
    return bool(now <= before["available"] - first["quantity"])


def _chunk(reference: str, draft: _Draft) -> Chunk:
    note = "; ".join(f"{label} {draft.notes[k]}" for k, label in NOTE_FIELDS if k in draft.notes)
    payload = {
        "reference": reference,
        "receiver": draft.receiver,
        "item_ids": draft.item_ids,
        "lots": [{"lot_key": k, "quantity": q} for k, q in draft.lots.items()],
        "note": note,
    }
    return Chunk(draft.rows, payload)
