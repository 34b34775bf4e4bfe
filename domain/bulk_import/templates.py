"""The template of each kind of import: its header row, with the English column keys or
the Chinese headings (either is accepted on upload)."""

from __future__ import annotations

import csv
import io

from medledger.domain.master_files import COLUMNS

__all__ = ["TEMPLATES", "template_csv"]

TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {
    "commissioning": (
        ("gtin", "产品标识"),
        ("lot", "批号"),
        ("serial", "序列号"),
        ("quantity", "数量"),
    ),
    "lots": (
        ("gtin", "产品标识"),
        ("lot", "批号"),
        ("production_date", "生产日期"),
        ("expiry", "失效日期"),
        ("quantity", "数量"),
    ),
    "products": tuple(COLUMNS),
    "shipments": (
        ("reference", "发货单号"),
        ("receiver", "收货方"),
        ("code", "追溯码"),
        ("gtin", "产品标识"),
        ("lot", "批号"),
        ("quantity", "数量"),
        ("po", "采购订单号"),
        ("desadv", "发货通知单号"),
        ("invoice", "发票号"),
    ),
    "receipts": (
        ("shipment", "发货单编号"),
        ("code", "追溯码"),
        ("gtin", "产品标识"),
        ("lot", "批号"),
        ("quantity", "数量"),
        ("conclusion", "验收结论"),
        ("temp_min", "最低温度"),
        ("temp_max", "最高温度"),
    ),
}


def template_csv(kind: str, *, chinese: bool) -> bytes | None:
    """The header row of `kind` as a CSV Excel opens (UTF-8 with a BOM), else None."""
    columns = TEMPLATES.get(kind)
    if columns is None:
        return None
    out = io.StringIO()
    csv.writer(out).writerow([zh if chinese else key for key, zh in columns])
    return out.getvalue().encode("utf-8-sig")
