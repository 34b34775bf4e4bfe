"""Printable label sheets: for each unit or case a GS1 DataMatrix (FNC1 first, so scanners
read `]d2` and GS1 element strings) and a QR code carrying its GS1 Digital Link URI on
the platform's public URL, which resolves to the verification page; with the element
string in plain text beneath, and above the codes the non-HRI text the caller gives
(product name, model, registration number, lot, expiry, storage). A4 pages at 150 dpi, as
PNG (one page) or PDF (all pages). Logistic labels (SSCC) are `portal.logistic_labels`.

The plain text breaks lines only between element strings (GS1 General Specifications
4.15: the human-readable interpretation shows each AI in parentheses with its data; an
element string is never split), so a line never ends in `(10)CR2612X(`.
"""

from __future__ import annotations

import ctypes
import io
import warnings
from collections.abc import Callable, Sequence
from ctypes import cast
from dataclasses import dataclass
from functools import cache, lru_cache, partial
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont

from medledger.sdk.gs1 import Udi

with warnings.catch_warnings():
    # pylibdmtx checks libdmtx's version with distutils' deprecated LooseVersion.
    warnings.simplefilter("ignore", DeprecationWarning)
    from pylibdmtx.pylibdmtx import (
        DmtxProperty,
        DmtxScheme,
        DmtxSymbolSize,
        _encoder,
        c_ubyte_p,
        dmtxEncodeDataMatrix,
        dmtxEncodeSetProp,
        dmtxImageGetProp,
    )

__all__ = [
    "GRID",
    "PER_PAGE",
    "Grid",
    "Label",
    "font",
    "gs1_datamatrix",
    "hri_elements",
    "hri_lines",
    "label_pages",
    "pdf",
    "pdf_bytes",
    "png",
    "png_bytes",
    "preview",
    "wrap",
]

GS = 0x1D
PAGE = (1240, 1754)  # A4 at 150 dpi
MARGIN = 60
LABEL = (560, 400)
COLUMNS, ROWS = 2, 4
PER_PAGE = COLUMNS * ROWS
TEXT_WIDTH = LABEL[0] - 40
TEXT_LINES = 3  # of the human-readable interpretation
INFO_LINES = 8  # of the product text above the codes
SYMBOL = 160
# A font with Chinese glyphs; without one, Pillow's default (Latin only).
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
)
Font = ImageFont.ImageFont | ImageFont.FreeTypeFont


@dataclass(frozen=True, slots=True)
class Label:
    """One label: the code, and the text printed apart from its HRI (one item a line)."""

    udi: Udi
    text: tuple[str, ...] = ()


def preview(label: Label) -> tuple[str, ...]:
    """What the label says, as text: its lines, then its HRI (for the page beside the PNG)."""
    return (*label.text, "".join(hri_elements(label.udi)))


@cache
def font(size: int) -> Font:
    for path in CJK_FONTS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def wrap(lines: Sequence[str], fits: Callable[[str], bool], *, limit: int) -> list[str]:
    """Text lines broken by character where they do not fit, at most `limit` lines (the
    last cut short with an ellipsis)."""
    out: list[str] = []
    for line in lines:
        if fits(line):
            out.append(line)
            continue
        current = ""
        for char in line:
            if current and not fits(current + char):
                out.append(current)
                current = char.lstrip()
            else:
                current += char
        out.append(current)
    if len(out) > limit:
        out = out[:limit]
        while out[-1] and not fits(out[-1] + "…"):
            out[-1] = out[-1][:-1]
        out[-1] += "…"
    return out


def gs1_datamatrix(payload: str, *, scale: int = 5) -> Image.Image:
    """A GS1 DataMatrix of an element-string payload (GS between variable fields).

    pylibdmtx's `encode` cannot start a symbol with FNC1, so this sets libdmtx's FNC1
    property on its encoder: the leading GS, and each separator, become FNC1 codewords."""
    data = (chr(GS) + payload).encode("ascii")
    with _encoder() as encoder:
        dmtxEncodeSetProp(encoder, DmtxProperty.DmtxPropScheme, DmtxScheme.DmtxSchemeAscii)
        dmtxEncodeSetProp(
            encoder, DmtxProperty.DmtxPropSizeRequest, DmtxSymbolSize.DmtxSymbolSquareAuto
        )
        dmtxEncodeSetProp(encoder, DmtxProperty.DmtxPropFnc1, GS)
        if dmtxEncodeDataMatrix(encoder, len(data), cast(data, c_ubyte_p)) == 0:  # type: ignore[arg-type]
            raise ValueError(f"cannot encode {payload!r} as a DataMatrix")
        prop = partial(dmtxImageGetProp, encoder[0].image)
        width, height, bpp = (
            prop(DmtxProperty.DmtxPropWidth),
            prop(DmtxProperty.DmtxPropHeight),
            prop(DmtxProperty.DmtxPropBitsPerPixel),
        )
        pixels = ctypes.string_at(encoder[0].image[0].pxl, width * height * bpp // 8)
    image = Image.frombytes("RGB", (width, height), pixels)
    # libdmtx draws 5 px per module; keep it sharp when scaling.
    return image.resize((width * scale // 5, height * scale // 5), Image.Resampling.NEAREST)


def _qr(uri: str) -> Image.Image:
    buffer = io.BytesIO()
    segno.make_qr(uri, error="m").save(buffer, kind="png", scale=5, border=2)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def hri_elements(udi: Udi) -> list[str]:
    """The element strings of `udi` in print order, each as `(AI)data`: together they are
    exactly `udi.element_string()`."""
    elements = ["(00)" + udi.sscc] if udi.sscc is not None else ["(01)" + str(udi.gtin)]
    if udi.production_date is not None:
        elements.append("(11)" + udi.production_date.strftime("%y%m%d"))
    if udi.expiry is not None:
        elements.append("(17)" + udi.expiry.strftime("%y%m%d"))
    if udi.lot is not None:
        elements.append("(10)" + udi.lot)
    if udi.serial is not None:
        elements.append("(21)" + udi.serial)
    return elements


def hri_lines(elements: Sequence[str], fits: Callable[[str], bool]) -> list[str]:
    """Element strings packed into lines that `fits`, breaking only between them (one too
    long for a line alone gets a line of its own)."""
    lines: list[str] = []
    for element in elements:
        if lines and fits(lines[-1] + element):
            lines[-1] += element
        else:
            lines.append(element)
    return lines


@lru_cache(maxsize=64)
def _info_lines(text: tuple[str, ...]) -> list[str]:
    """`text` wrapped to the label (a sheet's labels mostly share their text: once each)."""
    info = font(16)
    return wrap(text, lambda t: info.getlength(t) <= TEXT_WIDTH, limit=INFO_LINES)


def _label(label: Label, *, base_url: str) -> Image.Image:
    image = Image.new("RGB", LABEL, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, LABEL[0] - 1, LABEL[1] - 1), outline="black", width=2)
    info, hri = font(16), font(18)
    for number, line in enumerate(_info_lines(label.text)):
        draw.text((20, 8 + number * 20), line, fill="black", font=info)
    udi = label.udi
    matrix = gs1_datamatrix(udi.gs1_payload())
    qr = _qr(udi.digital_link_uri(base=base_url))
    top = 172
    image.paste(matrix.resize((SYMBOL, SYMBOL), Image.Resampling.NEAREST), (20, top))
    image.paste(
        qr.resize((SYMBOL, SYMBOL), Image.Resampling.NEAREST), (LABEL[0] - SYMBOL - 20, top)
    )
    hri_text = hri_lines(
        hri_elements(udi), lambda line: draw.textlength(line, font=hri) <= TEXT_WIDTH
    )
    for number, line in enumerate(hri_text[:TEXT_LINES]):
        draw.text((20, top + SYMBOL + 4 + number * 20), line, fill="black", font=hri)
    return image


@dataclass(frozen=True, slots=True)
class Grid:
    """How labels of one size sit on an A4 page."""

    label: tuple[int, int]
    columns: int
    rows: int
    margin: int = MARGIN

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    def pages(self, images: Sequence[Image.Image]) -> list[Image.Image]:
        pages: list[Image.Image] = []
        for start in range(0, max(len(images), 1), self.per_page):
            page = Image.new("RGB", PAGE, "white")
            for index, image in enumerate(images[start : start + self.per_page]):
                row, column = divmod(index, self.columns)
                x = self.margin + column * (self.label[0] + 20)
                y = self.margin + row * (self.label[1] + 20)
                page.paste(image, (x, y))
            # Black and white only: an eighth of the size, and printers render it crisp.
            pages.append(page.convert("1", dither=Image.Dither.NONE))
        return pages

    def page_slice(self, count: int, page: int) -> slice:
        """The labels on page `page` (from 1), or ValueError if there is no such page."""
        if not 1 <= page <= max(1, -(-count // self.per_page)):
            raise ValueError(f"no page {page} for {count} labels")
        return slice((page - 1) * self.per_page, page * self.per_page)


def png_bytes(page: Image.Image) -> bytes:
    buffer = io.BytesIO()
    page.save(buffer, format="PNG", dpi=(150, 150))
    return buffer.getvalue()


def pdf_bytes(pages: Sequence[Image.Image]) -> bytes:
    buffer = io.BytesIO()
    pages[0].save(
        buffer, format="PDF", resolution=150, save_all=True, append_images=list(pages[1:])
    )
    return buffer.getvalue()


GRID = Grid(LABEL, COLUMNS, ROWS)


def label_pages(units: Sequence[Label | Udi], *, base_url: str) -> list[Image.Image]:
    """A4 pages of labels, COLUMNS × ROWS per page (a bare `Udi` prints without text)."""
    labels = [u if isinstance(u, Label) else Label(u) for u in units]
    return GRID.pages([_label(label, base_url=base_url) for label in labels])


def png(units: Sequence[Label | Udi], *, base_url: str, page: int = 1) -> bytes:
    """Page `page` (from 1) as PNG."""
    return png_bytes(label_pages(units[GRID.page_slice(len(units), page)], base_url=base_url)[0])


def pdf(units: Sequence[Label | Udi], *, base_url: str) -> bytes:
    """Every page, as one PDF."""
    return pdf_bytes(label_pages(units, base_url=base_url))
