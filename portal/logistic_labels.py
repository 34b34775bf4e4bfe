"""GS1 logistic labels for logistic units (pallets, cartons with an SSCC), in the layout of
the GS1 Logistic Label Guideline: free-format text at the top (From, To, contents, lots),
then the SSCC as text in groups of four digits, and at the bottom the GS1-128 symbol of
(00) SSCC with its human-readable interpretation beneath (`(00)` and the 18 digits, never
broken). Four A6-sized labels per A4 page at 150 dpi, PNG (one page) or PDF (all pages).

The GS1-128 symbol comes from python-barcode's `Gs1_128` (Code 128 with FNC1 first, so
a scanner reads `]C1`); this module draws its modules at a whole number of pixels each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from barcode.codex import Gs1_128
from PIL import Image, ImageDraw

from medledger.portal.labels import Grid, font, pdf_bytes, png_bytes, wrap
from medledger.sdk.gs1 import validate_sscc

__all__ = ["PER_PAGE", "LogisticLabel", "gs1_128", "grouped", "pages", "pdf", "png"]

LABEL = (580, 820)
MODULE = 3  # pixels per module: 0.51 mm at 150 dpi (GS1: 0.495–1.016 mm for logistics)
BAR_HEIGHT = 190  # 32 mm
QUIET = 10 * MODULE


@dataclass(frozen=True, slots=True)
class LogisticLabel:
    """An SSCC and the text blocks above it: (caption, value) pairs, already translated."""

    sscc: str
    sections: tuple[tuple[str, str], ...] = ()


def grouped(sscc: str) -> str:
    """The 18 digits in groups of four from the left, e.g. `0950 6000 1343 5278 94`."""
    return " ".join(sscc[i : i + 4] for i in range(0, len(sscc), 4))


def gs1_128(element_string: str, *, height: int = BAR_HEIGHT) -> Image.Image:
    """The GS1-128 symbol of a (parenthesis-free) element string, with its quiet zones."""
    modules: str = Gs1_128(element_string).build()[0]
    image = Image.new("1", (len(modules) * MODULE + 2 * QUIET, height), 1)
    draw = ImageDraw.Draw(image)
    for index, module in enumerate(modules):
        if module == "1":
            x = QUIET + index * MODULE
            draw.rectangle((x, 0, x + MODULE - 1, height - 1), fill=0)
    return image


def _label(label: LogisticLabel) -> Image.Image:
    sscc = validate_sscc(label.sscc)
    image = Image.new("RGB", LABEL, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, LABEL[0] - 1, LABEL[1] - 1), outline="black", width=2)
    caption, value = font(16), font(22)
    width = LABEL[0] - 40
    y = 14
    for title, text in label.sections:
        draw.text((20, y), title, fill="black", font=caption)
        y += 22
        lines = wrap([text], lambda t: draw.textlength(t, font=value) <= width, limit=3)
        for line in lines:
            draw.text((20, y), line, fill="black", font=value)
            y += 28
        y += 6
    symbol_top = LABEL[1] - BAR_HEIGHT - 50
    draw.line((0, symbol_top - 110, LABEL[0], symbol_top - 110), fill="black", width=2)
    draw.text((20, symbol_top - 100), "SSCC", fill="black", font=caption)
    draw.text((20, symbol_top - 76), grouped(sscc), fill="black", font=font(40))
    symbol = gs1_128("00" + sscc)
    image.paste(symbol.convert("RGB"), ((LABEL[0] - symbol.width) // 2, symbol_top))
    hri = "(00)" + sscc
    hri_font = font(24)
    left = (LABEL[0] - draw.textlength(hri, font=hri_font)) / 2
    draw.text((left, symbol_top + BAR_HEIGHT + 8), hri, fill="black", font=hri_font)
    return image


GRID = Grid(LABEL, 2, 2, margin=30)
PER_PAGE = GRID.per_page


def pages(labels: Sequence[LogisticLabel]) -> list[Image.Image]:
    return GRID.pages([_label(label) for label in labels])


def png(labels: Sequence[LogisticLabel], *, page: int = 1) -> bytes:
    """Page `page` (from 1) as PNG."""
    return png_bytes(pages(labels[GRID.page_slice(len(labels), page)])[0])


def pdf(labels: Sequence[LogisticLabel]) -> bytes:
    return pdf_bytes(pages(labels))
