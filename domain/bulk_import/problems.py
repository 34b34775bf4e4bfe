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
