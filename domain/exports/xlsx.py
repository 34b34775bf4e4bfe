"""A signed export as an XLSX workbook, and its content read back for verification.

The first sheet is the table: row 1 the Chinese column names, row 2 the English ones, the
records from row 3. The sheet "签名 Signature" lists what the export is (kind, title,
member, period, generation time) with the sha256 of its canonical content, the signer's
address and the EIP-191 signature; the document properties repeat the hash, signer and
signature. Verification rebuilds the canonical content from the cells, so a changed cell
changes the hash.
"""

from __future__ import annotations

import io
import re
import zipfile
from itertools import islice
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import Cell as XlCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from medledger.domain.exports.model import MAX_ROWS, Export, SignedExport

__all__ = ["SIGNATURE_SHEET", "read_xlsx", "write_xlsx"]

SIGNATURE_SHEET = "签名 Signature"
MAX_UNPACKED = (
    200 * 1024 * 1024
)  # bytes a workbook to verify may unpack to (a zip bomb is not read)
_FIELDS = (  # (key, Chinese label, English label)
    ("format", "格式", "Format"),
    ("kind", "记录类型", "Record kind"),
    ("title_zh", "标题", "Title (Chinese)"),
    ("title_en", "英文标题", "Title"),
    ("member", "企业地址", "Member address"),
    ("member_name", "企业名称", "Member"),
    ("period", "期间", "Period"),
    ("generated_at", "生成时间 (Unix 秒)", "Generated at (Unix seconds)"),
    ("generated_day", "生成日期", "Generated on"),
    ("sha256", "内容哈希 (SHA-256)", "Content hash (SHA-256)"),
    ("signer", "签名者地址", "Signer address"),
    ("signer_name", "签名者", "Signer"),
    ("signature", "签名 (EIP-191)", "Signature (EIP-191)"),
)
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def _put(cell: XlCell, value: Any) -> None:
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # text, never a formula, even when it starts with "="


def write_xlsx(signed: SignedExport, *, signer_name: str) -> bytes:
    export = signed.export
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _BAD_SHEET_CHARS.sub(" ", export.title_zh)[:31] or "记录"
    bold = Font(bold=True)
    for col, column in enumerate(export.columns, start=1):
        _put(sheet.cell(row=1, column=col), column.zh)
        _put(sheet.cell(row=2, column=col), column.en)
        sheet.cell(row=1, column=col).font = bold
        width = max(len(column.zh) * 2, len(column.en)) + 2
        sheet.column_dimensions[get_column_letter(col)].width = min(max(width, 10), 40)
    for r, row in enumerate(export.rows, start=3):
        for c, value in enumerate(row, start=1):
            _put(sheet.cell(row=r, column=c), value)
    sheet.freeze_panes = "A3"

    sig = book.create_sheet(SIGNATURE_SHEET)
    values = _values(signed, signer_name)
    for r, (key, zh, en) in enumerate(_FIELDS, start=1):
        _put(sig.cell(row=r, column=1), zh)
        _put(sig.cell(row=r, column=2), en)
        _put(sig.cell(row=r, column=3), values[key])
        sig.cell(row=r, column=3).alignment = Alignment(wrap_text=True)
    sig.column_dimensions["A"].width = 22
    sig.column_dimensions["B"].width = 28
    sig.column_dimensions["C"].width = 80

    props = book.properties
    props.title = f"{export.title_zh} {export.title_en}"
    props.subject = f"{export.member_name} {export.period}"
    props.creator = signed.signer
    props.keywords = f"sha256:{signed.content_hash.hex()}"
    props.description = f"signer:{signed.signer} signature:0x{signed.signature.hex()}"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _values(signed: SignedExport, signer_name: str) -> dict[str, Any]:
    content = signed.export.content()
    return {
        "format": content["format"],
        "kind": content["kind"],
        "title_zh": signed.export.title_zh,
        "title_en": signed.export.title_en,
        "member": content["member"],
        "member_name": content["member_name"],
        "period": content["period"],
        "generated_at": content["generated_at"],
        "generated_day": signed.export.generated_day,
        "sha256": signed.content_hash.hex(),
        "signer": signed.signer,
        "signer_name": signer_name,
        "signature": "0x" + signed.signature.hex(),
    }


def read_xlsx(data: bytes) -> tuple[Export, str, str, str]:
    """(the export the cells hold, stated sha256 hex, stated signer, stated signature hex);
    ValueError when the workbook is not one of ours."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_UNPACKED:
            raise ValueError(f"it unpacks to {unpacked} bytes, over {MAX_UNPACKED}")
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # zipfile, XML and openpyxl errors alike
        raise ValueError(f"not a readable XLSX workbook: {exc}") from exc
    if SIGNATURE_SHEET not in book.sheetnames or len(book.sheetnames) != 2:
        raise ValueError(f"the workbook has no {SIGNATURE_SHEET!r} sheet")
    fields = {}
    for row in islice(book[SIGNATURE_SHEET].iter_rows(values_only=True), 2 * len(_FIELDS)):
        if row and len(row) >= 3:
            fields[(row[0], row[1])] = row[2]
    stated = {key: fields.get((zh, en)) for key, zh, en in _FIELDS}
    table = list(islice(book[book.sheetnames[0]].iter_rows(values_only=True), MAX_ROWS + 3))
    if len(table) > MAX_ROWS + 2:
        raise ValueError(f"the table has more than {MAX_ROWS} records")
    if len(table) < 2:
        raise ValueError("the table has no header rows")
    width = len([c for c in table[0] if c is not None])
    content = {
        "format": stated["format"],
        "kind": stated["kind"],
        "title": [stated["title_zh"], stated["title_en"]],
        "member": stated["member"],
        "member_name": stated["member_name"],
        "period": stated["period"],
        "generated_at": stated["generated_at"],
        "columns": [[table[0][i], table[1][i]] for i in range(width)],
        "rows": [list(row[:width]) + [None] * (width - len(row)) for row in table[2:]],
    }
    try:
        export = Export.from_content(content)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"the workbook is not a MedLedger export: {exc}") from exc
    return export, str(stated["sha256"]), str(stated["signer"]), str(stated["signature"])
