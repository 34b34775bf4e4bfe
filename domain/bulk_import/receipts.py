"""Receipts: rows naming an inbound shipment and either the code of an item it carries or
the GTIN, lot and quantity of a lot quantity it carries, each accepted or rejected, with
the temperatures measured on arrival (°C, optional: the shipment's own range if none);
the rows of one shipment become one receipt, written with the use case of
`POST /v1/partner/shipments/{id}/receive` (`domain.items.receive`), one per chunk.

A shipment no longer in transit when its chunk is sent (a resumed chunk that landed, or
one settled meanwhile) is skipped, not received twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sqlalchemy.engine import Connection

from medledger.domain import items
from medledger.domain.auth import Member
from medledger.domain.bulk_import.files import Row
from medledger.domain.bulk_import.plan import Chunk, Payload, Plan, duplicate_check
from medledger.domain.bulk_import.problems import Cells
from medledger.domain.chain import reader
from medledger.domain.codes import item_key_of
from medledger.domain.partner_schemas import ReceiveIn
from medledger.domain.services import Services
from medledger.sdk.errors import Gs1Error
from medledger.sdk.gs1 import lot_key
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import ShipmentState, ShipmentStatus

__all__ = ["Receipts"]

ACCEPTED = {"accepted", "accept", "qualified", "合格", "接收", "验收合格"}
REJECTED = {"rejected", "reject", "unqualified", "不合格", "拒收", "验收不合格"}


@dataclass(slots=True)
class _Shipped:
    state: ShipmentState
    items: set[bytes]
    lots: dict[bytes, int]  # lot key → quantity shipped


@dataclass(slots=True)
class _Draft:
    shipped: _Shipped
    rows: int = 0
    temps: tuple[int, int] | None = None
    rejected_ids: list[str] = field(default_factory=list)
    rejected_lots: dict[str, int] = field(default_factory=dict)


class Receipts:
    name = "receipts"
    columns = {
        "shipment": "shipment",
        "shipment_id": "shipment",
        "发货单编号": "shipment",
        "运单号": "shipment",
        "code": "code",
        "追溯码": "code",
        "gtin": "gtin",
        "GTIN": "gtin",
        "产品标识": "gtin",
        "lot": "lot",
        "批号": "lot",
        "quantity": "quantity",
        "数量": "quantity",
        "conclusion": "conclusion",
        "验收结论": "conclusion",
        "temp_min": "temp_min",
        "最低温度": "temp_min",
        "temp_max": "temp_max",
        "最高温度": "temp_max",
    }

    def plan(
        self, services: Services, conn: Connection, *, member: Member, rows: list[Row]
    ) -> Plan:
        plan = Plan()
        ledger = reader(services)
        shipped: dict[int, _Shipped | None] = {}
        drafts: dict[int, _Draft] = {}
        seen: dict[tuple[int, bytes], int] = {}
        for row in rows:
            cells = Cells(row)
            inbound = self._shipment(ledger, member, cells, shipped)
            rejected = _conclusion(cells)
            temps = _temperatures(cells)
            code = cells.text("code", required=False)
            has_lot = any(row.cells.get(k) for k in ("gtin", "lot", "quantity"))
            key: bytes | None = None
            quantity: int | None = None
            if code and has_lot:
                cells.refuse("code", "code_or_lot", code)
            elif not code and not has_lot:
                cells.refuse("code", "code_or_lot")
            elif code:
                try:
                    key = item_key_of(code)
                except Gs1Error:
                    cells.refuse("code", "malformed", code)
                if key is not None and inbound is not None and key not in inbound.items:
                    cells.refuse("code", "not_in_shipment", code)
            else:
                gtin, lot = cells.gtin(), cells.ledger_value("lot")
                quantity = cells.quantity()
                if gtin and lot:
                    key = lot_key(gtin, lot)
                    if inbound is not None and key not in inbound.lots:
                        cells.refuse("lot", "not_in_shipment", lot)
                    elif inbound is not None and quantity and quantity > inbound.lots[key]:
                        cells.refuse("quantity", "over_shipped", str(quantity), inbound.lots[key])
            if key is not None and inbound is not None:
                ident = (inbound.state.shipment_id, key)
                first = duplicate_check(seen, ident, row.number)
                if first is not None:
                    cells.refuse("code" if code else "lot", "duplicate_in_file", code, first)
            if inbound is not None and not cells.problems and key is not None:
                draft = drafts.setdefault(inbound.state.shipment_id, _Draft(inbound))
                if temps is not None and draft.temps not in (None, temps):
                    cells.refuse("temp_min", "temperatures_differ")
                draft.temps = draft.temps or temps
                draft.rows += 1
                if rejected and quantity is None:
                    draft.rejected_ids.append("0x" + key.hex())
                elif rejected and quantity:
                    draft.rejected_lots[key.hex()] = quantity
            plan.problems.extend(cells.problems)
        if not plan.problems:
            plan.chunks = [_chunk(d) for d in drafts.values()]
        return plan

    @staticmethod
    def _shipment(
        ledger: Ledger, member: Member, cells: Cells, known: dict[int, _Shipped | None]
    ) -> _Shipped | None:
        value = cells.text("shipment")
        if not value:
            return None
        if not (value.isascii() and value.isdigit()) or not 0 < int(value) < 2**63:
            cells.refuse("shipment", "malformed", value)
            return None
        number = int(value)
        if number not in known:
            state = ledger.shipment(number)
            known[number] = None
            if state.status is not ShipmentStatus.NONE and state.receiver == member.address:
                items_ = set(ledger.shipped_items(number))
                lots = {key: q for key, _index, q in ledger.shipment_lots(number)}
                known[number] = _Shipped(state, items_, lots)
        found = known[number]
        if found is None:
            cells.refuse("shipment", "shipment_not_inbound", value)
        elif found.state.status is not ShipmentStatus.IN_TRANSIT:
            cells.refuse("shipment", "shipment_settled", value)
            return None
        return found

    def before(self, services: Services, *, member: Member, payload: Payload) -> Payload:
        return {}

    def send(
        self,
        services: Services,
        *,
        member: Member,
        payload: Payload,
        before: Payload,
        resumed: bool,
    ) -> str | None:
        shipment_id = int(payload["shipment_id"])
        if reader(services).shipment(shipment_id).status is not ShipmentStatus.IN_TRANSIT:
            return None  # received already (this chunk before an interruption, or by hand)
        order = ReceiveIn.model_validate(
            {
                "temp_min": payload["temp_min"],
                "temp_max": payload["temp_max"],
                "rejected_ids": payload["rejected_ids"],
                "rejected_lots": payload["rejected_lots"],
            }
        )
        return items.receive(services, member=member, shipment_id=shipment_id, order=order).tx_hash


def _conclusion(cells: Cells) -> bool:
    """Whether the row is rejected."""
    value = cells.text("conclusion")
    folded = value.casefold()
    if value and folded not in ACCEPTED and folded not in REJECTED:
        cells.refuse("conclusion", "bad_conclusion", value)
    return folded in REJECTED


def _temperatures(cells: Cells) -> tuple[int, int] | None:
    """(min, max) in tenths of a degree Celsius, None when the row gives neither."""
    low, high = _tenths(cells, "temp_min"), _tenths(cells, "temp_max")
    given = cells.row.cells.get("temp_min") or cells.row.cells.get("temp_max")
    if not given:
        return None
    if low is None or high is None:
        if low is None and not cells.row.cells.get("temp_min"):
            cells.refuse("temp_min", "missing_value")
        if high is None and not cells.row.cells.get("temp_max"):
            cells.refuse("temp_max", "missing_value")
        return None
    if low > high:
        cells.refuse("temp_max", "temperature_order")
        return None
    return low, high


def _tenths(cells: Cells, column: str) -> int | None:
    value = cells.text(column, required=False)
    if not value:
        return None
    try:
        tenths = Decimal(value.replace("℃", "").replace("°C", "").strip()) * 10
    except InvalidOperation:
        tenths = Decimal("NaN")
    if not tenths.is_finite() or tenths != tenths.to_integral_value() or abs(tenths) > 2000:
        cells.refuse(column, "bad_temperature", value)
        return None
    return int(tenths)


def _chunk(draft: _Draft) -> Chunk:
    state = draft.shipped.state
    low, high = draft.temps or (state.temp_min, state.temp_max)
    payload = {
        "shipment_id": state.shipment_id,
        "temp_min": low,
        "temp_max": high,
        "rejected_ids": draft.rejected_ids,
        "rejected_lots": [{"lot_key": k, "quantity": q} for k, q in draft.rejected_lots.items()],
    }
    return Chunk(draft.rows, payload)
