"""Reading an import file: CSV (UTF-8 with or without BOM, or GB18030 as Chinese Excel
saves it) or XLSX (openpyxl in read-only mode, streamed row by row), within limits.

The whole file is refused (422 with a code) when it is too large, holds too many rows or
columns, is not CSV/XLSX, or is an XLSX whose parts would inflate beyond reason (a zip
bomb or a shared-strings blow-up). A cell longer than `MAX_CELL` characters, or an XLSX
formula (never evaluated), is kept as a marker the row check reports.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from medledger.domain.errors import Unprocessable

__all__ = [
    "FORMULA",
    "MAX_CELL",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "TOO_LONG",
    "Row",
    "read_table",
]

MAX_FILE_BYTES = 20 * 2**20
MAX_ROWS = 100_000
MAX_COLUMNS = 60
MAX_CELL = 200
# An XLSX is a ZIP: its parts may inflate to at most this much in all, and no part by a
# ratio a spreadsheet never reaches (a zip bomb does).
MAX_INFLATED_BYTES = 256 * 2**20
MAX_RATIO = 200
MAX_SHARED_STRINGS_BYTES = 64 * 2**20
FORMULA = "\x00formula"
TOO_LONG = "\x00too_long"


@dataclass(frozen=True, slots=True)
class Row:
    """A data row: its number in the file (the header is row 1) and its cells by key."""

    number: int
    cells: dict[str, str]


def read_table(filename: str, data: bytes, *, columns: Mapping[str, str]) -> list[Row]:
    """The rows of `data`, keyed by column key; `columns` maps each heading a file may use
    (the key itself, its Chinese or English heading) to its key."""
    if len(data) > MAX_FILE_BYTES:
        raise Unprocessable(
            "import_file_too_large", f"the file has {len(data)} bytes, at most {MAX_FILE_BYTES}"
        )
    name = filename.lower()
    if name.endswith(".csv"):
        lines: Iterable[list[Any]] = _csv_lines(data)
    elif name.endswith(".xlsx"):
        lines = _xlsx_lines(data)
    else:
        raise Unprocessable(
            "import_unsupported_type", f"{filename[:100]!r} is not a .csv or .xlsx file"
        )
    return _table(iter(lines), columns)


def _table(lines: Iterator[list[Any]], columns: Mapping[str, str]) -> list[Row]:
    header = next(lines, None)
    if header is None:
        raise Unprocessable("import_empty_file", "the file is empty")
    if len(header) > MAX_COLUMNS:
        raise Unprocessable(
            "import_too_many_columns",
            f"the header has {len(header)} columns, at most {MAX_COLUMNS}",
        )
    known = {k.casefold(): v for k, v in columns.items()}
    keys = [known.get(str(h or "").strip().casefold()) for h in header]
    if not any(keys):
        raise Unprocessable(
            "import_bad_header",
            f"the first row names none of the columns {sorted(set(columns.values()))}",
        )
    rows: list[Row] = []
    for number, cells in enumerate(lines, start=2):
        values = {k: _cell(v) for k, v in zip(keys, cells, strict=False) if k is not None}
        if not any(values.values()):
            continue
        if len(rows) == MAX_ROWS:
            raise Unprocessable("import_too_many_rows", f"the file holds over {MAX_ROWS} rows")
        rows.append(Row(number, values))
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    if len(text) > MAX_CELL:
        return TOO_LONG
    return text


def _csv_lines(data: bytes) -> Iterator[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise Unprocessable(
                "import_bad_encoding", "the CSV is neither UTF-8 nor GB18030"
            ) from exc
    csv.field_size_limit(MAX_CELL * 4 + 1024)
    try:
        yield from csv.reader(io.StringIO(text, newline=""))
    except csv.Error as exc:
        raise Unprocessable("import_unreadable", f"the CSV cannot be read: {exc}") from exc


def _check_zip(data: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise Unprocessable("import_unreadable", "the XLSX is not a valid workbook") from exc
    with archive:
        inflated = 0
        for info in archive.infolist():
            inflated += info.file_size
            ratio = info.file_size / max(info.compress_size, 1)
            big_part = info.file_size > 2**20 and ratio > MAX_RATIO
            shared = info.filename.endswith("sharedStrings.xml")
            if big_part or (shared and info.file_size > MAX_SHARED_STRINGS_BYTES):
                raise Unprocessable(
                    "import_zip_bomb", f"the part {info.filename[:100]!r} inflates too much"
                )
        if inflated > MAX_INFLATED_BYTES:
            raise Unprocessable("import_zip_bomb", "the workbook inflates beyond its limit")


def _xlsx_lines(data: bytes) -> Iterator[list[Any]]:
    # openpyxl parses with defusedxml when it is installed (it is: `master_files` uses it).
    from openpyxl import load_workbook

    _check_zip(data)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise Unprocessable("import_unreadable", f"cannot read the XLSX: {exc}"[:300]) from exc
    try:
        sheet = book.worksheets[0]
        for cells in sheet.iter_rows(values_only=True):
            yield [FORMULA if _is_formula(v) else v for v in cells[: MAX_COLUMNS + 1]]
    finally:
        book.close()


def _is_formula(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("=")
