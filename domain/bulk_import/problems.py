"""The problems a row of an import file can have: a stable code per problem and its
sentence in Chinese and English (`{value}`, `{other}` filled in), and the cell readers
that report them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from medledger.domain.bulk_import.files import FORMULA, MAX_CELL, TOO_LONG, Row
from medledger.sdk.errors import Gs1Error
from medledger.sdk.gs1 import ledger_safe, validate_gtin

__all__ = ["MESSAGES", "Cells", "RowProblem"]

MESSAGES: dict[str, tuple[str, str]] = {
    "missing_value": ("此列不能为空", "this column must not be empty"),
    "too_long": (f"内容超过 {MAX_CELL} 个字符", f"the value is over {MAX_CELL} characters"),
    "formula": ("不计算公式：请粘贴为数值", "formulas are not evaluated: paste the value"),
    "bad_check_digit": ("“{value}”的校验位错误", "the check digit of {value!r} is wrong"),
    "malformed": ("“{value}”格式不正确", "{value!r} is malformed"),
    "unsupported_chars": (
        "“{value}”只能含 0-9 A-Z a-z - . _，最多 20 个字符",
        "{value!r} may hold only 0-9 A-Z a-z - . _, at most 20 characters",
    ),
    "bad_quantity": (
        "数量“{value}”应为正整数",
        "quantity {value!r} must be a positive whole number",
    ),
    "bad_date": ("日期“{value}”应为 YYYY-MM-DD", "date {value!r} must be YYYY-MM-DD"),
    "expiry_before_production": (
        "失效日期早于生产日期",
        "the expiry is before the production date",
    ),
    "serial_and_quantity": ("序列号与数量只能填一个", "give a serial or a quantity, not both"),
    "serial_or_quantity": ("请填写序列号或数量", "give a serial or a quantity"),
    "needs_serial": (
        "该产品按序列号管理，请填写序列号",
        "the product is serialised: give a serial",
    ),
    "needs_quantity": (
        "该产品按批次数量管理，请填写数量",
        "the product is tracked by lot: give a quantity",
    ),
    "lot_unknown": ("贵单位没有批号“{value}”", "none of your lots is {value!r}"),
    "lot_exists": ("批号“{value}”已在账本上", "lot {value!r} is already on the ledger"),
    "product_unknown": ("贵单位没有产品“{value}”", "none of your products is {value!r}"),
    "duplicate_in_file": ("与第 {other} 行重复", "repeats row {other}"),
    "already_on_ledger": ("“{value}”已在账本上", "{value!r} is already on the ledger"),
    # shipments and receipts
    "code_or_lot": (
        "请填写追溯码，或产品标识、批号与数量（只填一种）",
        "give a code, or a GTIN, lot and quantity (one of the two)",
    ),
    "item_not_held": ("贵单位未持有在库的“{value}”", "you hold no active item {value!r}"),
    "item_packed": (
        "“{value}”已装入箱/托盘：请填写外层包装的追溯码",
        "{value!r} is packed: give the code of its case or pallet",
    ),
    "lot_not_on_ledger": ("账本上没有批号“{value}”", "no lot {value!r} is on the ledger"),
    "quantity_unavailable": (
        "数量超过可发货数量（可用 {value}）",
        "more than you have available ({value} in all)",
    ),
    "receiver_unknown": (
        "收货方“{value}”不是在册的有效成员（请填写地址或 GLN）",
        "receiver {value!r} is no active member (give an address or a GLN)",
    ),
    "receiver_is_sender": ("不能发货给自己", "you cannot ship to yourself"),
    "receiver_differs": (
        "同一发货单号的收货方与第 {other} 行不同",
        "the receiver differs from row {other} of the same reference",
    ),
    "note_differs": (
        "“{value}”与第 {other} 行同一发货单的单号不同",
        "{value!r} differs from row {other} of the same reference",
    ),
    "shipment_too_large": (
        "发货单“{value}”超过 {other} 个追溯码和批次",
        "shipment {value!r} holds over {other} items and lots",
    ),
    "shipment_not_inbound": (
        "没有发给贵单位的发货单 {value}",
        "no shipment {value} is addressed to you",
    ),
    "shipment_settled": (
        "发货单 {value} 已收货、拒收或取消",
        "shipment {value} is already received, rejected or cancelled",
    ),
    "not_in_shipment": ("“{value}”不在该发货单中", "{value!r} is not in this shipment"),
    "over_shipped": (
        "数量“{value}”超过发货数量 {other}",
        "quantity {value!r} is over the {other} shipped",
    ),
    "bad_conclusion": (
        "验收结论“{value}”应为 合格/接收 或 不合格/拒收",
        "conclusion {value!r} must be accepted or rejected",
    ),
    "bad_temperature": (
        "温度“{value}”应为 -200 至 200 ℃ 之间、最多一位小数的数字",
        "temperature {value!r} must be a number of °C from -200 to 200, one decimal at most",
    ),
    "temperature_order": ("最低温度高于最高温度", "the minimum temperature is above the maximum"),
    "temperatures_differ": (
        "同一发货单的温度与前面的行不同",
        "the temperatures differ from an earlier row of the same shipment",
    ),
}


@lru_cache(maxsize=4096)
def _gtin(value: str) -> tuple[str, str]:
    """(the 14-digit GTIN, "") or ("", the problem code): a file repeats a few GTINs."""
    try:
        return validate_gtin(value), ""
    except Gs1Error as exc:
        return "", exc.code if exc.code in MESSAGES else "malformed"


@dataclass(frozen=True, slots=True)
class RowProblem:
    row: int
    column: str
    code: str
    value: str
    message_zh: str
    message_en: str

    @classmethod
    def of(cls, row: int, column: str, code: str, value: str, other: object = "") -> RowProblem:
        zh, en = MESSAGES.get(code, ("{value}", "{value}"))
        shown = value if value not in (FORMULA, TOO_LONG) else ""
        return cls(
            row,
            column,
            code,
            shown,
            zh.format(value=shown, other=other),
            en.format(value=shown, other=other),
        )


@dataclass(slots=True)
class Cells:
    """Typed reads of one row's cells; each refusal becomes a `RowProblem`."""

    row: Row
    problems: list[RowProblem] = field(default_factory=list)

    def refuse(self, column: str, code: str, value: str = "", other: object = "") -> None:
        self.problems.append(RowProblem.of(self.row.number, column, code, value, other))

    def text(self, column: str, *, required: bool = True) -> str:
        value = self.row.cells.get(column, "")
        if value == FORMULA:
            self.refuse(column, "formula")
            return ""
        if value == TOO_LONG:
            self.refuse(column, "too_long")
            return ""
        if required and not value:
            self.refuse(column, "missing_value")
        return value

    def gtin(self, column: str = "gtin") -> str:
        value = self.text(column)
        if not value:
            return ""
        gtin, code = _gtin(value)
        if code:
            self.refuse(column, code, value)
        return gtin

    def ledger_value(self, column: str, *, required: bool = True) -> str:
        """A serial or lot as the ledger takes it."""
        value = self.text(column, required=required)
        if not value:
            return ""
        try:
            return ledger_safe(value, what=column)
        except Gs1Error:
            self.refuse(column, "unsupported_chars", value)
            return ""

    def quantity(self, column: str = "quantity", *, required: bool = True) -> int | None:
        value = self.text(column, required=required)
        if not value:
            return None
        if not (value.isascii() and value.isdigit()) or not 0 < int(value) <= 10**9:
            self.refuse(column, "bad_quantity", value)
            return None
        return int(value)

    def day(self, column: str) -> date | None:
        value = self.text(column)
        if not value:
            return None
        try:
            return date.fromisoformat(value.replace("/", "-"))
        except ValueError:
            self.refuse(column, "bad_date", value)
            return None
