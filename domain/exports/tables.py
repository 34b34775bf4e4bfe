"""The GSP record tables of the inspection exports (医疗器械经营质量管理规范 record columns),
built from the read model and the product master data: purchase (购进), acceptance (验收),
sales/outbound (销售/出库), cold chain (冷链运输/温度记录), recall (召回) and adverse-event
(不良事件) records of one member in one period.

What the ledger does not hold is left empty, never invented: the inspector, conclusion text
and note of an acceptance, the reason and required action of a recall notice and the
narrative of an adverse event live in sealed records (`medledger.domain.records`); until a
deployment has them those columns stay blank. Names of products come from the product's
anchored master record (`domain.master_data`), names of organisations from the read model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection

from medledger.domain.errors import Unprocessable
from medledger.domain.exports.model import MAX_ROWS, Cell, Column, ExportProblem, Period
from medledger.domain.exports.sealed import acceptance_bodies, body_of, text
from medledger.domain.master_data import MasterRecord, current_record
from medledger.domain.recalls import recall_progress
from medledger.domain.services import Services
from medledger.indexer.items import EventKind
from medledger.indexer.queries.devices import product_facts
from medledger.indexer.queries.inspection import (
    InspectionShipment,
    LotLine,
    Side,
    adverse_events_in,
    group_lines,
    recalls_opened_in,
    shipment_lots,
    shipments_in,
)
from medledger.indexer.queries.trace import lot_reached
from medledger.sdk.dates import day_of
from medledger.sdk.model import ShipmentStatus

__all__ = ["KINDS", "ExportKind", "Table", "build_table", "temperature", "yes_no"]

MAX_SERIALS = 50  # serials listed in one cell; more read "… (+n)"


class ExportKind(StrEnum):
    PURCHASE = "purchase"
    ACCEPTANCE = "acceptance"
    SALES = "sales"
    COLD_CHAIN = "cold-chain"
    RECALL = "recall"
    ADVERSE_EVENT = "adverse-event"


@dataclass(frozen=True, slots=True)
class Table:
    title_zh: str
    title_en: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]


def _cols(*pairs: tuple[str, str]) -> tuple[Column, ...]:
    return tuple(Column(zh, en) for zh, en in pairs)


PRODUCT = (
    ("医疗器械名称", "Device name"),
    ("规格型号", "Specification / model"),
    ("注册证编号/备案凭证编号", "Registration / filing certificate no."),
    ("生产企业", "Manufacturer"),
    ("产品标识 (DI/GTIN)", "Device identifier (GTIN)"),
)
LOT = (("生产批号", "Lot number"), ("序列号", "Serial numbers"))
DATES = (("生产日期", "Production date"), ("有效期至", "Expiry date"))

TITLES: dict[ExportKind, tuple[str, str]] = {
    ExportKind.PURCHASE: ("购进记录", "Purchase records"),
    ExportKind.ACCEPTANCE: ("验收记录", "Acceptance records"),
    ExportKind.SALES: ("销售/出库记录", "Sales / outbound records"),
    ExportKind.COLD_CHAIN: ("冷链运输温度记录", "Cold-chain transport temperature records"),
    ExportKind.RECALL: ("召回记录", "Recall records"),
    ExportKind.ADVERSE_EVENT: ("不良事件记录", "Adverse event records"),
}
KINDS = tuple(ExportKind)

STATUS = {
    ShipmentStatus.IN_TRANSIT: "在途 In transit",
    ShipmentStatus.RECEIVED: "已收货 Received",
    ShipmentStatus.REJECTED: "已拒收 Rejected",
    ShipmentStatus.CANCELLED: "已取消 Cancelled",
}


def yes_no(value: bool | None) -> str | None:
    return None if value is None else ("是 Yes" if value else "否 No")


def temperature(tenths: int | None) -> str | None:
    """Tenths of a degree Celsius as `2.5` (the column names carry the unit, °C)."""
    return None if tenths is None else f"{tenths / 10:.1f}"


def _day(timestamp: int | None) -> str | None:
    return None if timestamp is None else day_of(timestamp).isoformat()


class _Products:
    """Product columns from the master record, else the on-chain manufacturer name only."""

    def __init__(self, services: Services, conn: Connection) -> None:
        self._services, self._conn = services, conn
        self._cache: dict[str, tuple[Cell, ...]] = {}
        self.records: dict[str, MasterRecord | None] = {}

    def __call__(self, gtin: str | None) -> tuple[Cell, ...]:
        if gtin is None:
            return (None, None, None, None, None)
        if gtin not in self._cache:
            record = self.records[gtin] = current_record(self._services, gtin)
            if record is not None:
                self._cache[gtin] = (
                    record.name_zh,
                    record.model,
                    record.registration_number,
                    record.manufacturer_zh,
                    gtin,
                )
            else:
                facts = product_facts(self._conn, gtin)
                maker = None if facts is None else facts.manufacturer_name
                self._cache[gtin] = (None, None, None, maker, gtin)
        return self._cache[gtin]

    def storage(self, gtin: str) -> str | None:
        self(gtin)
        record = self.records.get(gtin)
        if record is not None:
            low, high = record.storage.temp_min, record.storage.temp_max
        else:
            facts = product_facts(self._conn, gtin)
            if facts is None:
                return None
            low, high = facts.temp_min, facts.temp_max
        return f"{temperature(low)} ~ {temperature(high)}"


def _serials(line: LotLine | None) -> str | None:
    if line is None or not line.serials:
        return None
    shown = ", ".join(line.serials[:MAX_SERIALS])
    more = len(line.serials) - MAX_SERIALS
    return shown if more <= 0 else f"{shown} … (+{more})"


def _within_cap(count: int) -> None:
    if count > MAX_ROWS:
        raise Unprocessable(
            ExportProblem.TOO_MANY_ROWS,
            f"the export would have more than {MAX_ROWS} rows: choose a shorter period",
        )


def _shipped(conn: Connection, shipments: list[InspectionShipment]) -> dict[int, list[LotLine]]:
    return group_lines(shipment_lots(conn, [s.shipment_id for s in shipments]))


def _purchase(ctx: _Context) -> list[tuple[Cell, ...]]:
    shipments = ctx.shipments("inbound")
    lines = _shipped(ctx.conn, shipments)
    rows: list[tuple[Cell, ...]] = []
    for s in shipments:
        for line in lines.get(s.shipment_id, []):
            if line.kind is EventKind.RECEIVED:
                rows.append(
                    (
                        _day(s.settled_at),
                        s.shipment_id,
                        *ctx.products(line.gtin),
                        s.sender.name,
                        line.lot_number,
                        _serials(line),
                        _day(line.production_date),
                        _day(line.expiry),
                        line.quantity,
                    )
                )
    return rows


PURCHASE_COLUMNS = _cols(
    ("购进日期", "Purchase date"),
    ("货运单号", "Shipment no."),
    *PRODUCT,
    ("供货者", "Supplier"),
    *LOT,
    *DATES,
    ("数量", "Quantity"),
)


def _acceptance(ctx: _Context) -> list[tuple[Cell, ...]]:
    shipments = ctx.shipments("inbound")
    lines = _shipped(ctx.conn, shipments)
    sealed = acceptance_bodies(
        ctx.services,
        {s.shipment_id for s in shipments},
        reader=ctx.member,
        regulator=ctx.regulator,
    )
    rows: list[tuple[Cell, ...]] = []
    for s in shipments:
        record = sealed.get(s.shipment_id)
        by_lot: dict[tuple[str, str], dict[EventKind, LotLine]] = {}
        for line in lines.get(s.shipment_id, []):
            by_lot.setdefault((line.gtin, line.lot_number), {})[line.kind] = line
        for (gtin, lot), moves in by_lot.items():
            shipped = moves.get(EventKind.SHIPPED)
            accepted = moves.get(EventKind.RECEIVED)
            rejected = moves.get(EventKind.REJECTED)
            any_line = shipped or accepted or rejected
            assert any_line is not None
            ok, no = (accepted.quantity if accepted else 0), (rejected.quantity if rejected else 0)
            verdict = (
                "合格 Accepted"
                if not no
                else ("拒收 Rejected" if not ok else "部分拒收 Part rejected")
            )
            rows.append(
                (
                    _day(s.settled_at),
                    s.shipment_id,
                    s.sender.name,
                    *ctx.products(gtin),
                    lot,
                    _serials(shipped or accepted),
                    _day(any_line.production_date),
                    _day(any_line.expiry),
                    shipped.quantity if shipped else ok + no,
                    ok,
                    no,
                    _line_conclusion(record, gtin, lot) or verdict,
                    yes_no(s.quarantined),
                    text(record, "inspector"),
                    text(record, "note"),
                )
            )
    return rows


_CONCLUSIONS = {"qualified": "合格 Qualified", "unqualified": "不合格 Unqualified"}


def _line_conclusion(record: dict[str, Any] | None, gtin: str, lot: str) -> str | None:
    """The inspector's conclusion for (gtin, lot) in a sealed acceptance record
    (`domain.acceptance`: one per line), else the record's own, if any."""
    lines = record.get("lines") if record is not None else None
    for line in lines if isinstance(lines, list) else []:
        if isinstance(line, dict) and line.get("gtin") == gtin and line.get("lot", "") == lot:
            found = _CONCLUSIONS.get(str(line.get("conclusion")))
            if found is not None:
                return found
    return text(record, "conclusion")


_VERDICTS = {  # (any accepted, any rejected) -> conclusion
    (True, False): "合格 Accepted",
    (False, False): "合格 Accepted",
    (False, True): "拒收 Rejected",
    (True, True): "部分拒收 Partly rejected",
}
ACCEPTANCE_COLUMNS = _cols(
    ("验收日期", "Acceptance date"),
    ("货运单号", "Shipment no."),
    ("供货者", "Supplier"),
    *PRODUCT,
    *LOT,
    *DATES,
    ("到货数量", "Quantity delivered"),
    ("合格数量", "Quantity accepted"),
    ("拒收数量", "Quantity rejected"),
    ("验收结论", "Conclusion"),
    ("隔离待检", "Quarantined"),
    ("验收人员", "Inspector"),
    ("备注", "Note"),
)


def _sales(ctx: _Context) -> list[tuple[Cell, ...]]:
    shipments = ctx.shipments("outbound")
    lines = _shipped(ctx.conn, shipments)
    return [
        (
            _day(s.sent_at),
            s.shipment_id,
            s.receiver.name,
            *ctx.products(line.gtin),
            line.lot_number,
            _serials(line),
            _day(line.production_date),
            _day(line.expiry),
            line.quantity,
            STATUS.get(s.status, str(int(s.status))),
        )
        for s in shipments
        for line in lines.get(s.shipment_id, [])
        if line.kind is EventKind.SHIPPED
    ]


SALES_COLUMNS = _cols(
    ("出库日期", "Dispatch date"),
    ("货运单号", "Shipment no."),
    ("购货者", "Consignee"),
    *PRODUCT,
    *LOT,
    *DATES,
    ("数量", "Quantity"),
    ("状态", "Status"),
)


def _cold_chain(ctx: _Context) -> list[tuple[Cell, ...]]:
    shipments = ctx.shipments("settled")
    lines = _shipped(ctx.conn, shipments)
    rows: list[tuple[Cell, ...]] = []
    for s in shipments:
        for line in lines.get(s.shipment_id, []):
            if line.kind is not EventKind.SHIPPED:
                continue
            product = ctx.products(line.gtin)
            rows.append(
                (
                    _day(s.sent_at),
                    _day(s.settled_at),
                    s.shipment_id,
                    s.sender.name,
                    s.receiver.name,
                    product[0],
                    line.gtin,
                    line.lot_number,
                    line.quantity,
                    ctx.products.storage(line.gtin),
                    temperature(s.temp_min),
                    temperature(s.temp_max),
                    s.excursion_seconds,
                    yes_no(s.quarantined),
                )
            )
    return rows


COLD_CHAIN_COLUMNS = _cols(
    ("发货日期", "Dispatch date"),
    ("收货日期", "Receipt date"),
    ("货运单号", "Shipment no."),
    ("发货方", "Sender"),
    ("收货方", "Receiver"),
    ("医疗器械名称", "Device name"),
    ("产品标识 (DI/GTIN)", "Device identifier (GTIN)"),
    ("生产批号", "Lot number"),
    ("数量", "Quantity"),
    ("储存温度要求 (°C)", "Required storage (°C)"),
    ("运输最低温度 (°C)", "Minimum in transit (°C)"),
    ("运输最高温度 (°C)", "Maximum in transit (°C)"),
    ("超温时长 (秒)", "Excursion (seconds)"),
    ("到货隔离", "Quarantined on receipt"),
)


def _recall(ctx: _Context) -> list[tuple[Cell, ...]]:
    rows: list[tuple[Cell, ...]] = []
    for r in recalls_opened_in(
        ctx.conn, start=ctx.period.start, end=ctx.period.end, limit=MAX_ROWS + 1
    ):
        product = ctx.products(r.gtin)
        facts = product_facts(ctx.conn, r.gtin)
        makes = facts is not None and facts.manufacturer == ctx.member
        if not (
            makes
            or r.initiator.address == ctx.member
            or lot_reached(ctx.conn, r.lot_index, ctx.member)
        ):
            continue
        progress = recall_progress(ctx.services, ctx.conn, r.recall_id)
        mine = next((h for h in progress.holders if h.holder.address == ctx.member), None)
        ack = None if mine is None else mine.acknowledgement
        late = None if mine is None else mine.overdue(progress.deadline, ctx.now)
        notice = body_of(ctx.services, r.reason_hash, reader=ctx.member, regulator=ctx.regulator)
        rows.append(
            (
                r.recall_id,
                r.level,
                _day(r.opened_at),
                _day(progress.deadline),
                _day(r.closed_at),
                r.initiator.name,
                *product,
                r.lot_number,
                text(notice, "reason"),
                text(notice, "action"),
                None if mine is None else mine.outstanding,
                None if mine is None else mine.dispensed,
                None if ack is None else _day(ack.acknowledged_at),
                yes_no(late),
            )
        )
    return rows


RECALL_COLUMNS = _cols(
    ("召回编号", "Recall no."),
    ("召回级别", "Level"),
    ("召回开始日期", "Opened on"),
    ("通知期限", "Notice deadline"),
    ("召回结束日期", "Closed on"),
    ("召回发起方", "Initiated by"),
    *PRODUCT,
    ("生产批号", "Lot number"),
    ("召回原因", "Reason"),
    ("要求措施", "Required action"),
    ("本单位未处理数量", "Outstanding here"),
    ("本单位已使用数量", "Dispensed here"),
    ("确认通知时间", "Acknowledged on"),
    ("逾期", "Late"),
)


def _adverse(ctx: _Context) -> list[tuple[Cell, ...]]:
    events = adverse_events_in(
        ctx.conn, ctx.member, start=ctx.period.start, end=ctx.period.end, limit=MAX_ROWS + 1
    )
    rows: list[tuple[Cell, ...]] = []
    for e in events:
        report = body_of(ctx.services, e.report_hash, reader=ctx.member, regulator=ctx.regulator)
        rows.append(
            (
                e.event_id,
                _day(e.reported_at),
                e.reporter.name,
                e.severity,
                *ctx.products(e.gtin),
                e.lot_number,
                e.serial,
                text(report, "event_date"),
                text(report, "device_problem_code", "device_problem"),
                text(report, "device_problem"),
                text(report, "narrative"),
                text(report, "outcome"),
            )
        )
    return rows


ADVERSE_COLUMNS = _cols(
    ("报告编号", "Report no."),
    ("报告日期", "Reported on"),
    ("报告单位", "Reporter"),
    ("严重程度", "Severity"),
    *PRODUCT,
    ("生产批号", "Lot number"),
    ("序列号", "Serial number"),
    ("事件发生日期", "Event date"),
    ("器械故障代码", "Device problem code"),
    ("器械故障表现", "Device problem"),
    ("事件描述", "Description"),
    ("事件结果", "Outcome"),
)


@dataclass
class _Context:
    services: Services
    conn: Connection
    member: str
    regulator: bool
    period: Period
    now: int
    products: _Products

    def shipments(self, side: Side) -> list[InspectionShipment]:
        found = shipments_in(
            self.conn,
            self.member,
            side=side,
            start=self.period.start,
            end=self.period.end,
            limit=MAX_ROWS + 1,
        )
        _within_cap(len(found))
        return found


BUILDERS: dict[
    ExportKind, tuple[tuple[Column, ...], Callable[[_Context], Iterable[tuple[Cell, ...]]]]
] = {
    ExportKind.PURCHASE: (PURCHASE_COLUMNS, _purchase),
    ExportKind.ACCEPTANCE: (ACCEPTANCE_COLUMNS, _acceptance),
    ExportKind.SALES: (SALES_COLUMNS, _sales),
    ExportKind.COLD_CHAIN: (COLD_CHAIN_COLUMNS, _cold_chain),
    ExportKind.RECALL: (RECALL_COLUMNS, _recall),
    ExportKind.ADVERSE_EVENT: (ADVERSE_COLUMNS, _adverse),
}


def build_table(
    services: Services,
    conn: Connection,
    kind: ExportKind,
    *,
    member: str,
    regulator: bool,
    period: Period,
    now: int,
) -> Table:
    """The records of `kind` of `member` (a checksummed address) in `period`, with the
    sealed records' text the exporter (the member, or the regulator) may read."""
    columns, build = BUILDERS[kind]
    ctx = _Context(services, conn, member, regulator, period, now, _Products(services, conn))
    rows = tuple(build(ctx))
    _within_cap(len(rows))
    assert all(len(r) == len(columns) for r in rows), kind
    return Table(*TITLES[kind], columns, rows)
