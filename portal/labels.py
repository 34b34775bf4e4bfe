"""Printable label sheets: for each unit a GS1 DataMatrix (FNC1 first, so scanners read
`]d2` and GS1 element strings) and a QR code carrying the unit's GS1 Digital Link URI on
the platform's public URL, which resolves to the verification page; with the element
string in plain text beneath. A4 pages at 150 dpi, as PNG (one page) or PDF (all pages).

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
from functools import partial

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

__all__ = ["PER_PAGE", "gs1_datamatrix", "hri_elements", "hri_lines", "label_pages", "pdf", "png"]

GS = 0x1D
PAGE = (1240, 1754)  # A4 at 150 dpi
MARGIN = 60
LABEL = (560, 300)
COLUMNS, ROWS = 2, 5
PER_PAGE = COLUMNS * ROWS
TEXT_WIDTH = LABEL[0] - 40
TEXT_LINES = 3


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


def _label(
    udi: Udi, *, base_url: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont
) -> Image.Image:
    label = Image.new("RGB", LABEL, "white")
    draw = ImageDraw.Draw(label)
    draw.rectangle((0, 0, LABEL[0] - 1, LABEL[1] - 1), outline="black", width=2)
    matrix = gs1_datamatrix(udi.gs1_payload())
    qr = _qr(udi.digital_link_uri(base=base_url))
    side = 200
    label.paste(matrix.resize((side, side), Image.Resampling.NEAREST), (20, 20))
    label.paste(qr.resize((side, side), Image.Resampling.NEAREST), (LABEL[0] - side - 20, 20))
    lines = hri_lines(
        hri_elements(udi), lambda line: draw.textlength(line, font=font) <= TEXT_WIDTH
    )
    for number, line in enumerate(lines[:TEXT_LINES]):
        draw.text((20, 230 + number * 20), line, fill="black", font=font)
    return label


def label_pages(units: Sequence[Udi], *, base_url: str) -> list[Image.Image]:
    """A4 pages of labels, COLUMNS × ROWS per page."""
    font = ImageFont.load_default(size=18)
    pages: list[Image.Image] = []
    for start in range(0, max(len(units), 1), PER_PAGE):
        page = Image.new("RGB", PAGE, "white")
        for index, udi in enumerate(units[start : start + PER_PAGE]):
            row, column = divmod(index, COLUMNS)
            x = MARGIN + column * (LABEL[0] + 20)
            y = MARGIN + row * (LABEL[1] + 20)
            page.paste(_label(udi, base_url=base_url, font=font), (x, y))
        # Black and white only: an eighth of the size, and printers render it crisp.
        pages.append(page.convert("1", dither=Image.Dither.NONE))
    return pages


def png(units: Sequence[Udi], *, base_url: str, page: int = 1) -> bytes:
    """Page `page` (from 1) as PNG."""
    if not 1 <= page <= max(1, -(-len(units) // PER_PAGE)):
        raise ValueError(f"no page {page} for {len(units)} labels")
    start = (page - 1) * PER_PAGE
    buffer = io.BytesIO()
    label_pages(units[start : start + PER_PAGE], base_url=base_url)[0].save(
        buffer, format="PNG", dpi=(150, 150)
    )
    return buffer.getvalue()


def pdf(units: Sequence[Udi], *, base_url: str) -> bytes:
    """Every page, as one PDF."""
    pages = label_pages(units, base_url=base_url)
    buffer = io.BytesIO()
    pages[0].save(buffer, format="PDF", resolution=150, save_all=True, append_images=pages[1:])
    return buffer.getvalue()
