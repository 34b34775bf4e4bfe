"""Form value parsing (portal.forms): what a clerk types becomes a value or a field error."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from medledger.portal.errors import MESSAGES, FormError
from medledger.portal.forms import code_lot, codes, read_code, serials_of, tenths
from medledger.sdk.gs1 import Udi, make_sscc


@pytest.mark.parametrize(
    ("typed", "expected"), [("2", 20), ("-18.5", -185), ("2,5", 25), ("3276.7", 32767)]
)
def test_a_temperature_is_read_in_tenths_of_a_degree(typed: str, expected: int) -> None:
    assert tenths("temp_min", typed) == expected


@pytest.mark.parametrize("typed", ["nan", "NaN", "inf", "-Infinity", "1e999999", "3276.8", "x"])
def test_a_temperature_that_is_no_number_or_out_of_range_is_a_field_error(typed: str) -> None:
    with pytest.raises(FormError) as refused:
        tenths("temp_min", typed)
    assert refused.value.code == "invalid_request"
    assert "temp_min" in refused.value.fields


# ------------------------------------------------------------------ codes in any form


def _forms_of(udi: Udi) -> list[str]:
    return [
        udi.element_string(),
        udi.gs1_payload(),
        "]d2" + udi.gs1_payload(),
        "]d2\x1d" + udi.gs1_payload(),
        udi.digital_link_uri(base="https://id.example"),
    ]


def test_every_code_form_the_verify_page_reads_is_read_by_the_portal_forms() -> None:
    unit = Udi(gtin="09506000134352", lot="L/1", serial="S,1(a)", expiry=dt.date(2027, 1, 31))
    for form in _forms_of(unit):
        assert codes("contents", f"\n{form}\n") == [unit], form
        assert read_code("code", form) == unit
        assert serials_of("serials", form, gtin=unit.gtin) == [unit.serial]
        assert code_lot("gtin", form, "") == (unit.gtin, unit.lot)
    sscc = make_sscc(extension=0, company_prefix="9506000", serial_reference=7)
    assert codes("contents", sscc) == [Udi(sscc=sscc)]
    assert code_lot("gtin", "09506000134352", " L1 ") == ("09506000134352", "L1")
    assert serials_of("serials", "A1, A2\nA3", gtin=unit.gtin) == ["A1", "A2", "A3"]


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda: codes("contents", "\n(01)09506000134353(21)X"), "bad_check_digit"),
        (lambda: codes("contents", "(01)09506000134352(10)L1"), "missing_serial"),
        (lambda: code_lot("gtin", "(01)09506000134352(21)X", ""), "missing_lot"),
        (lambda: code_lot("gtin", "(01)09506000134352(10)L1", "L2"), "code_lot_mismatch"),
        (
            lambda: serials_of("s", "(01)09506000134376(21)X", gtin="09506000134352"),
            "code_not_of_lot",
        ),
    ],
)
def test_a_code_that_does_not_fit_the_field_is_a_field_error_naming_why(
    call: Callable[[], object], code: str
) -> None:
    with pytest.raises(FormError) as refused:
        call()
    assert refused.value.code == code
    assert refused.value.fields
    assert code in MESSAGES
