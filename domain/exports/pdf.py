"""A signed export as a PDF (ReportLab), and the seal that makes every byte of it verifiable.

The page shows the title in both languages, the member and period, then the table with the
Chinese and the English column names as two header rows. Every page's footer prints the
sha256 of the export's canonical content, the signer's address and the EIP-191 signature
of that hash; the document metadata (keywords, subject) carries them too. Chinese text uses
ReportLab's built-in CID font STSong-Light (no font file needed; readers supply the glyphs).

A PDF can be edited without touching its printed hash, so after `%%EOF` the file carries a
seal line: `%MEDLEDGER-SEAL <json>` with the sha256 of every byte before the seal and the
same key's signature of that hash. PDF readers ignore what follows `%%EOF`'s line.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from typing import Any
from xml.sax.saxutils import escape

from eth_account.signers.local import LocalAccount
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer

from medledger.domain.exports.model import Export, SignedExport, canonical_bytes, sign_digest

__all__ = ["SEAL_MARK", "read_seal", "write_pdf"]

FONT = "STSong-Light"
PAD = 2  # points of padding left and right in a cell
SEAL_MARK = b"\n%MEDLEDGER-SEAL "


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _text(value: object) -> str:
    return "" if value is None else escape(str(value))


def write_pdf(signed: SignedExport, account: LocalAccount, *, signer_name: str) -> bytes:
    """The export as a sealed PDF; `account` is the key that signed `signed`."""
    export = signed.export
    font = _font()
    cell = ParagraphStyle("cell", fontName=font, fontSize=7, leading=8.5, wordWrap="CJK")
    head = ParagraphStyle("head", parent=cell, textColor=colors.white)
    title = ParagraphStyle("title", fontName=font, fontSize=14, leading=18)
    info = ParagraphStyle("info", fontName=font, fontSize=9, leading=12)
    digest, signature = signed.content_hash.hex(), "0x" + signed.signature.hex()

    def footer(canvas: Canvas, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 6.5)
        canvas.drawString(
            10 * mm, 11 * mm, f"内容哈希 Content SHA-256: {digest}    第 {doc.page} 页 Page"
        )
        canvas.drawString(10 * mm, 8 * mm, f"签名者 Signer: {signed.signer} {signer_name}")
        canvas.drawString(10 * mm, 5 * mm, f"签名 Signature (EIP-191): {signature}")
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        leftMargin=10 * mm,
        rightMargin=10 * mm,
        topMargin=10 * mm,
        bottomMargin=18 * mm,
        title=f"{export.title_zh} {export.title_en}",
        author=signed.signer,
        subject=f"{export.member_name} {export.period}",
        creator="MedLedger",
        keywords=f"sha256:{digest} signer:{signed.signer} signature:{signature}",
        invariant=1,
    )
    header = [
        [Paragraph(_text(c.zh), head) for c in export.columns],
        [Paragraph(_text(c.en), head) for c in export.columns],
    ]
    widths = _widths(export, doc.width)
    # A Paragraph wraps but costs ~100x a plain string: only cells too wide for one line get one.
    fits = [int((w - 2 * PAD) / (7 * 0.6)) for w in widths]  # half-width characters a line
    body = [
        [
            Paragraph(_text(v), cell) if _shown(v) > fits[i] else ("" if v is None else str(v))
            for i, v in enumerate(row)
        ]
        for row in export.rows
    ]
    table = LongTable(header + body, colWidths=widths, repeatRows=2)
    table.setStyle(
        [
            ("FONT", (0, 2), (-1, -1), font, 7, 8.5),
            ("LEFTPADDING", (0, 0), (-1, -1), PAD),
            ("RIGHTPADDING", (0, 0), (-1, -1), PAD),
            ("BACKGROUND", (0, 0), (-1, 1), colors.HexColor("#1f4e79")),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    who = f"{_text(export.member_name)} {_text(export.member)}".strip()
    story = [
        Paragraph(f"{_text(export.title_zh)}　{_text(export.title_en)}", title),
        Paragraph(
            f"企业 Member: {who}　期间 Period: {_text(export.period)}　"
            f"生成日期 Generated: {export.generated_day}　"
            f"记录数 Records: {len(export.rows)}",
            info,
        ),
        Spacer(1, 4 * mm),
        table,
    ]
    if not export.rows:
        story.append(Paragraph("本期间无记录。No records in this period.", info))
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return _seal(out.getvalue(), signed, account)


def _shown(value: object) -> int:
    """Rough printed width of a cell in half-width characters (a CJK one counts two)."""
    text = "" if value is None else str(value)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _widths(export: Export, total: float) -> list[float]:
    """Column widths in proportion to their widest content, a longest word kept whole where
    it can be, each between 6 and 40 half-width characters."""
    weights = []
    for i, column in enumerate(export.columns):
        head = max(_shown(column.zh), max((len(w) for w in column.en.split()), default=0))
        cells = [_shown(row[i]) for row in export.rows[:200]]
        weights.append(min(max(head, *cells, 6), 40) if cells else min(max(head, 6), 40))
    scale = total / max(sum(weights), 1)
    return [w * scale for w in weights]


def _seal(body: bytes, signed: SignedExport, account: LocalAccount) -> bytes:
    file_hash = hashlib.sha256(body).digest()
    seal = {
        "format": signed.export.content()["format"],
        "content_sha256": signed.content_hash.hex(),
        "content": base64.b64encode(signed.export.canonical()).decode(),
        "signer": signed.signer,
        "signature": "0x" + signed.signature.hex(),
        "file_sha256": file_hash.hex(),
        "file_signature": "0x" + sign_digest(account, file_hash).hex(),
    }
    return body + SEAL_MARK + canonical_bytes(seal) + b"\n"


def read_seal(data: bytes) -> tuple[bytes, dict[str, Any]]:
    """(the PDF bytes before the seal, the seal); ValueError without one."""
    at = data.rfind(SEAL_MARK)
    if at < 0 or not data.startswith(b"%PDF-"):
        raise ValueError("not a sealed MedLedger PDF export")
    try:
        seal = json.loads(data[at + len(SEAL_MARK) :])
    except ValueError as exc:
        raise ValueError(f"the seal is not readable: {exc}") from exc
    if not isinstance(seal, dict):
        raise ValueError("the seal is not readable")
    return data[:at], seal
