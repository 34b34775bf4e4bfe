"""Reading import files within limits (`domain.bulk_import.files`) and the error file
(`domain.bulk_import.report`), without a chain."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from openpyxl import Workbook

from medledger.domain.bulk_import.commissioning import Commissioning
from medledger.domain.bulk_import.files import MAX_ROWS, read_table
from medledger.domain.bulk_import.problems import MESSAGES, Cells
from medledger.domain.bulk_import.report import error_file
from medledger.domain.errors import Unprocessable
from medledger.indexer.store.imports import ErrorRow

COLUMNS = Commissioning.columns


def refused(name: str, data: bytes) -> str:
    with pytest.raises(Unprocessable) as caught:
        read_table(name, data, columns=COLUMNS)
    return caught.value.code


def test_a_gb18030_csv_with_chinese_headings_is_read() -> None:
    data = "产品标识,批号,序列号,备注\n06901234000014,批A1,S1,中文\n".encode("gb18030")
    rows = read_table("清单.csv", data, columns=COLUMNS)
    assert [(r.number, r.cells) for r in rows] == [
        (2, {"gtin": "06901234000014", "lot": "批A1", "serial": "S1"})
    ]


def test_a_utf8_csv_with_a_bom_and_blank_lines_keeps_file_row_numbers() -> None:
    data = "\ufeffgtin,lot,serial\n\n06901234000014,L1,S1\n".encode()
    rows = read_table("a.csv", data, columns=COLUMNS)
    assert [r.number for r in rows] == [3]


def test_a_formula_and_an_overlong_cell_are_reported_on_their_row() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["gtin", "lot", "serial"])
    sheet.append(["=A1+1", "L" * 300, "S1"])
    out = io.BytesIO()
    book.save(out)
    (row,) = read_table("a.xlsx", out.getvalue(), columns=COLUMNS)
    cells = Cells(row)
    cells.gtin()
    cells.ledger_value("lot")
    assert [(p.row, p.column, p.code) for p in cells.problems] == [
        (2, "gtin", "formula"),
        (2, "lot", "too_long"),
    ]


def test_a_zip_bomb_is_refused_before_it_is_inflated() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (20 * 2**20))
    assert refused("a.xlsx", out.getvalue()) == "import_zip_bomb"


def test_too_many_rows_are_refused() -> None:
    data = "gtin,lot,serial\n" + "1,L,S\n" * (MAX_ROWS + 1)
    assert refused("a.csv", data.encode()) == "import_too_many_rows"


def test_each_row_problem_code_has_both_sentences() -> None:
    for code, (zh, en) in MESSAGES.items():
        assert zh.strip() and en.strip() and zh != en, code


def test_the_error_file_defuses_cells_a_spreadsheet_would_run() -> None:
    error = ErrorRow(
        2, "serial", "malformed", "=cmd", "格式不正确", "malformed", json.dumps({"serial": "=cmd"})
    )
    lines = list(csv.reader(io.StringIO(error_file([error], "csv").decode("utf-8-sig"))))
    assert lines[1][:3] == ["2", "serial", "malformed"] and lines[1][-1] == "'=cmd"
