"""A logistic label's GS1-128 symbol scans back (zxing-cpp) as `]C1` and the SSCC it was
made for, whatever the SSCC; the human-readable SSCC is in groups of four digits; and a
long text block is cut with an ellipsis, never running into the symbol."""

from __future__ import annotations

import io

import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from medledger.portal import labels, logistic_labels
from medledger.sdk.gs1 import make_sscc, parse_code


@settings(max_examples=20, deadline=None)
@given(extension=st.integers(0, 9), reference=st.integers(0, 10**9 - 1))
def test_every_sscc_scans_back_from_its_logistic_label(extension: int, reference: int) -> None:
    sscc = make_sscc(extension=extension, company_prefix="9506000", serial_reference=reference)
    label = logistic_labels.LogisticLabel(sscc, (("From", "East China Demo"),))
    page = Image.open(io.BytesIO(logistic_labels.png([label])))
    (symbol,) = zxingcpp.read_barcodes(page, formats=zxingcpp.BarcodeFormat.Code128)
    assert symbol.symbology_identifier == "]C1"
    assert parse_code("]C1" + symbol.bytes.decode("ascii")).sscc == sscc


def test_the_sscc_is_grouped_in_fours_and_pages_hold_four_labels() -> None:
    assert logistic_labels.grouped("095060000134352783") == "0950 6000 0134 3527 83"
    sscc = make_sscc(extension=0, company_prefix="9506000", serial_reference=1)
    five = [logistic_labels.LogisticLabel(sscc)] * 5
    assert len(logistic_labels.pages(five)) == 2
    assert logistic_labels.png(five, page=2).startswith(b"\x89PNG")


def test_text_too_long_for_its_lines_ends_in_an_ellipsis() -> None:
    lines = labels.wrap(["x" * 50], lambda t: len(t) <= 10, limit=3)
    assert lines == ["x" * 10, "x" * 10, "x" * 9 + "…"]
    assert labels.wrap(["short", "也短"], lambda t: len(t) <= 10, limit=3) == ["short", "也短"]
