"""The error file of an invalid import: each bad row as it was read, with the columns
`row`, `column`, `code` and an error column in Chinese and English, as CSV (UTF-8 with a
BOM, so Excel opens it in Chinese) or XLSX. A cell that a spreadsheet would run as a
formula is written with a leading apostrophe."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Literal

from medledger.indexer.store.imports import ErrorRow

__all__ = ["ERROR_FORMATS", "error_file"]

ErrorFormat = Literal["csv", "xlsx"]
ERROR_FORMATS: tuple[ErrorFormat, ...] = ("csv", "xlsx")
HEAD = ["行 row", "列 column", "代码 code", "错误 error", "error"]


def _safe(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _lines(errors: Sequence[ErrorRow]) -> list[list[str]]:
    keys: list[str] = []
    cells = [json.loads(e.cells) for e in errors]
    for row in cells:
        keys.extend(k for k in row if k not in keys)
    lines = [HEAD + keys]
    for error, row in zip(errors, cells, strict=True):
        fixed = [str(error.row), error.column, error.code, error.message_zh, error.message_en]
        lines.append([_safe(v) for v in fixed + [row.get(k, "") for k in keys]])
    return lines


def error_file(errors: Sequence[ErrorRow], fmt: ErrorFormat) -> bytes:
    lines = _lines(errors)
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out).writerows(lines)
        return out.getvalue().encode("utf-8-sig")
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("errors")
    for line in lines:
        sheet.append(line)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
