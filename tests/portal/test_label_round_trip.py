"""Every GS1 CSET 82 character survives the whole trip of a code: parse → ledger id →
Digital Link → printed label (the rendered DataMatrix and QR images) → decoded by a real
barcode reader (zxing-cpp) → parsed again, equal, with the same id."""

from __future__ import annotations

import datetime as dt

import zxingcpp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from medledger.portal import labels
from medledger.sdk.gs1 import Udi, parse_code

CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
BASE = "https://id.medledger.example"
GTIN = "09506000134352"

values = st.text(alphabet=CSET82, min_size=1, max_size=20)
expiries = st.none() | st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2049, 12, 31))


def test_the_strategy_alphabet_is_all_of_cset82() -> None:
    assert len(CSET82) == 82


@settings(max_examples=82, deadline=None)
@given(serial=values, lot=st.none() | values, expiry=expiries)
@example(serial=CSET82[:20], lot=CSET82[20:40], expiry=None)
@example(serial=CSET82[40:60], lot=CSET82[60:80], expiry=dt.date(2027, 1, 31))
@example(serial=CSET82[80:] + "/%", lot="(21)", expiry=None)
def test_every_cset82_character_survives_parse_id_link_label_and_scan(
    serial: str, lot: str | None, expiry: dt.date | None
) -> None:
    udi = Udi(gtin=GTIN, serial=serial, lot=lot, expiry=expiry)
    parsed = parse_code(udi.gs1_payload())
    assert parsed == udi
    link = parsed.digital_link_uri(base=BASE)
    assert parse_code(link) == udi and parse_code(link).item_id == udi.item_id

    (page,) = labels.label_pages([parsed], base_url=BASE)
    found = zxingcpp.read_barcodes(page)
    (matrix,) = [b for b in found if b.format == zxingcpp.BarcodeFormat.DataMatrix]
    (qr,) = [b for b in found if b.format == zxingcpp.BarcodeFormat.QRCode]
    assert matrix.symbology_identifier == "]d2"
    scanned = parse_code("]d2" + matrix.bytes.decode("ascii"))
    assert scanned == udi and scanned.item_id == udi.item_id
    assert qr.text == link
    assert parse_code(qr.text).item_id == udi.item_id
