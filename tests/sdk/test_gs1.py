"""Tests for sdk.gs1: reading, writing and hashing GS1 identifiers."""

from __future__ import annotations

import datetime

import pytest
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from medledger.sdk.errors import Gs1Error
from medledger.sdk.gs1 import (
    GS,
    Udi,
    check_digit,
    company_prefix_of,
    container_path,
    item_id,
    ledger_safe,
    lot_key,
    lot_path,
    make_gtin,
    make_sscc,
    parse_code,
    parse_unit,
    unit_path,
    validate_gtin,
    validate_sscc,
)

GTIN = "09506000134352"  # GS1's example GTIN
SSCC = "106141411234567897"  # GS1's example SSCC
UNIT_PATH = "/01/09506000134352/21/SN1"

# The same physical unit (GTIN, lot L1, serial SN1, expiry 2027-01-31) in every input form.
SAME_UNIT_FORMS = [
    "(01)09506000134352(17)270131(10)L1(21)SN1",
    "01095060001343521727013110L1\x1d21SN1",
    "]d201095060001343521727013110L1\x1d21SN1",
    "]C101095060001343521727013110L1\x1d21SN1",
    "]Q301095060001343521727013110L1\x1d21SN1",
    "https://x.example/01/09506000134352/10/L1/21/SN1?17=270131",
    "http://id.gs1.org/01/9506000134352/10/L1/21/SN1?17=270131&linkType=gs1:pip",
    "]Q3https://scan.example/some/prefix/01/09506000134352/10/L1/21/SN1?17=270131",
    "  (01) 09506000134352 (17) 270131 (10) L1 (21) SN1 \n",
    "0109506000134352\x1d10L1\x1d1727013121SN1",
]


def expect_error(code: str, text: str) -> Gs1Error:
    with pytest.raises(Gs1Error) as info:
        parse_code(text)
    assert info.value.code == code, str(info.value)
    return info.value


# --------------------------------------------------------------------------- check digits and keys


def test_check_digit_of_gs1_example_gtin_is_2() -> None:
    assert check_digit("0950600013435") == 2


def test_check_digit_of_gs1_example_sscc_is_7() -> None:
    assert check_digit("10614141123456789") == 7


def test_check_digit_rejects_empty_and_non_digit_input() -> None:
    with pytest.raises(Gs1Error) as empty:
        check_digit("")
    assert empty.value.code == "empty"
    with pytest.raises(Gs1Error) as letters:
        check_digit("12a4")
    assert letters.value.code == "malformed"
    assert "12a4" in str(letters.value)


def test_valid_gtin_is_returned_in_14_digit_form() -> None:
    assert validate_gtin(GTIN) == GTIN
    assert validate_gtin("9506000134352") == GTIN  # GTIN-13
    assert validate_gtin("614141000036") == "00614141000036"  # GTIN-12
    assert validate_gtin("95012346") == "00000095012346"  # GTIN-8


def test_bad_gtin_check_digit_is_rejected_with_the_expected_digit() -> None:
    with pytest.raises(Gs1Error) as info:
        validate_gtin("09506000134353")
    assert info.value.code == "bad_check_digit"
    assert str(info.value) == "check digit of GTIN 09506000134353 should be 2"


@pytest.mark.parametrize("bad", ["0950600013", "095060001343521", "0950600013435X", "٠٩٥"])
def test_gtin_of_wrong_length_or_with_non_digits_is_malformed(bad: str) -> None:
    with pytest.raises(Gs1Error) as info:
        validate_gtin(bad)
    assert info.value.code == "malformed"
    assert repr(bad) in str(info.value)


def test_empty_gtin_is_reported_as_empty() -> None:
    with pytest.raises(Gs1Error) as info:
        validate_gtin("")
    assert info.value.code == "empty"


def test_gs1_example_sscc_is_valid() -> None:
    assert validate_sscc(SSCC) == SSCC


def test_bad_sscc_check_digit_is_rejected_with_the_expected_digit() -> None:
    with pytest.raises(Gs1Error) as info:
        validate_sscc("106141411234567890")
    assert info.value.code == "bad_check_digit"
    assert str(info.value) == "check digit of SSCC 106141411234567890 should be 7"


def test_sscc_of_wrong_length_is_malformed() -> None:
    with pytest.raises(Gs1Error) as info:
        validate_sscc("10614141123456789")
    assert info.value.code == "malformed"


def test_make_gtin_rebuilds_the_gs1_example_gtin() -> None:
    assert make_gtin(indicator=0, company_prefix="9506000", item_reference=13435) == GTIN


def test_make_sscc_rebuilds_the_gs1_example_sscc() -> None:
    assert make_sscc(extension=1, company_prefix="0614141", serial_reference=123456789) == SSCC


def test_make_gtin_with_a_twelve_digit_company_prefix_has_no_item_reference() -> None:
    gtin = make_gtin(indicator=1, company_prefix="950600013435", item_reference=0)
    assert gtin == validate_gtin(gtin)
    assert gtin.startswith("1950600013435")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"indicator": 10, "company_prefix": "9506000", "item_reference": 1},
        {"indicator": -1, "company_prefix": "9506000", "item_reference": 1},
        {"indicator": 0, "company_prefix": "950", "item_reference": 1},
        {"indicator": 0, "company_prefix": "95060001343521", "item_reference": 0},
        {"indicator": 0, "company_prefix": "95O6000", "item_reference": 1},
        {"indicator": 0, "company_prefix": "9506000", "item_reference": 100000},
        {"indicator": 0, "company_prefix": "9506000", "item_reference": -1},
    ],
)
def test_make_gtin_rejects_parts_that_do_not_fit(kwargs: dict[str, object]) -> None:
    with pytest.raises(Gs1Error) as info:
        make_gtin(**kwargs)  # type: ignore[arg-type]
    assert info.value.code == "malformed"


def test_make_sscc_rejects_a_serial_reference_too_long_for_the_prefix() -> None:
    with pytest.raises(Gs1Error) as info:
        make_sscc(extension=1, company_prefix="0614141", serial_reference=10**9)
    assert info.value.code == "malformed"
    assert "1000000000" in str(info.value)


def test_company_prefix_is_read_after_the_indicator_or_extension_digit() -> None:
    assert company_prefix_of(GTIN, "9506000")
    assert company_prefix_of("9506000134352", "9506000")  # GTIN-13 is padded first
    assert not company_prefix_of(GTIN, "0950600")
    assert company_prefix_of(SSCC, "0614141")
    assert not company_prefix_of(SSCC, "1061414")
    assert company_prefix_of("614141000036", "0614141")  # UPC prefix in GS1 form


def test_company_prefix_check_validates_the_key_and_the_prefix() -> None:
    with pytest.raises(Gs1Error) as bad_key:
        company_prefix_of("09506000134353", "9506000")
    assert bad_key.value.code == "bad_check_digit"
    with pytest.raises(Gs1Error) as empty:
        company_prefix_of(GTIN, "")
    assert empty.value.code == "empty"
    with pytest.raises(Gs1Error) as letters:
        company_prefix_of(GTIN, "95a")
    assert letters.value.code == "malformed"


# --------------------------------------------------------------------------- paths and ids


def test_item_id_is_keccak_of_the_unit_path_exactly_as_the_contract_computes_it() -> None:
    expected = keccak(primitive=b"/01/" + GTIN.encode() + b"/21/" + b"SN1")
    assert unit_path(GTIN, "SN1") == UNIT_PATH
    assert item_id(UNIT_PATH) == expected
    assert len(expected) == 32
    assert expected.hex() == "05a2de2552f25b3abfe50b78843596a8fe047815b98b0a578174ef04c6a9dc4d"


def test_lot_key_is_keccak_of_the_lot_path() -> None:
    assert lot_path(GTIN, "L1") == "/01/09506000134352/10/L1"
    assert lot_key(GTIN, "L1") == keccak(primitive=b"/01/09506000134352/10/L1")


def test_paths_pad_short_gtins_to_14_digits() -> None:
    assert unit_path("9506000134352", "SN1") == UNIT_PATH
    assert lot_path("9506000134352", "L1") == "/01/09506000134352/10/L1"


def test_container_path_uses_ai_00() -> None:
    assert container_path(SSCC) == "/00/106141411234567897"


def test_paths_reject_bad_keys() -> None:
    with pytest.raises(Gs1Error) as info:
        container_path("106141411234567890")
    assert info.value.code == "bad_check_digit"


def test_ledger_safe_serial_appears_verbatim_in_the_path() -> None:
    assert unit_path(GTIN, "Ab-9._x") == "/01/09506000134352/21/Ab-9._x"


def test_other_gs1_characters_are_percent_encoded_in_the_path() -> None:
    assert unit_path(GTIN, "A/B%C+D") == "/01/09506000134352/21/A%2FB%25C%2BD"


def test_serial_outside_gs1_cset82_is_malformed() -> None:
    with pytest.raises(Gs1Error) as info:
        unit_path(GTIN, "A B")
    assert info.value.code == "malformed"
    assert "'A B'" in str(info.value)
    with pytest.raises(Gs1Error) as too_long:
        lot_path(GTIN, "L" * 21)
    assert too_long.value.code == "malformed"


def test_item_id_refuses_something_that_is_not_an_item_path() -> None:
    with pytest.raises(Gs1Error) as empty:
        item_id("")
    assert empty.value.code == "empty"
    with pytest.raises(Gs1Error) as uri:
        item_id("https://id.gs1.org/01/09506000134352/21/SN1")
    assert uri.value.code == "malformed"


# --------------------------------------------------------------------------- ledger character rule


def test_ledger_safe_returns_an_allowed_value_unchanged() -> None:
    assert ledger_safe("SN-0001_a.B", what="serial") == "SN-0001_a.B"
    assert ledger_safe("x" * 20, what="lot") == "x" * 20


def test_ledger_safe_names_the_value_and_the_bad_character() -> None:
    with pytest.raises(Gs1Error) as info:
        ledger_safe("SN/1", what="serial")
    assert info.value.code == "unsupported_chars"
    message = str(info.value)
    assert "serial" in message
    assert "'SN/1'" in message
    assert "'/'" in message


@pytest.mark.parametrize("value", ["a b", "é", "SN%1", "L+1", "(1)"])
def test_ledger_safe_rejects_characters_the_chain_does_not_accept(value: str) -> None:
    with pytest.raises(Gs1Error) as info:
        ledger_safe(value, what="lot")
    assert info.value.code == "unsupported_chars"


def test_ledger_safe_rejects_values_longer_than_20_characters() -> None:
    with pytest.raises(Gs1Error) as info:
        ledger_safe("x" * 21, what="serial")
    assert info.value.code == "unsupported_chars"
    assert "21" in str(info.value)


def test_ledger_safe_reports_an_empty_value_as_empty() -> None:
    with pytest.raises(Gs1Error) as info:
        ledger_safe("", what="serial")
    assert info.value.code == "empty"


# --------------------------------------------------------------------------- parse_code: forms


@pytest.mark.parametrize("text", SAME_UNIT_FORMS)
def test_every_input_form_of_the_same_unit_reads_the_same(text: str) -> None:
    udi = parse_code(text)
    assert udi == Udi(gtin=GTIN, serial="SN1", lot="L1", expiry=datetime.date(2027, 1, 31))


def test_every_input_form_of_the_same_unit_yields_the_identical_item_id() -> None:
    ids = {parse_code(text).item_id for text in SAME_UNIT_FORMS}
    assert ids == {keccak(primitive=UNIT_PATH.encode())}
    lot_keys = {parse_code(text).lot_key for text in SAME_UNIT_FORMS}
    assert lot_keys == {keccak(primitive=b"/01/09506000134352/10/L1")}


def test_datamatrix_payload_with_symbology_identifier_is_read() -> None:
    udi = parse_code("]d201095060001343521727013110L1\x1d21SN1")
    assert udi.gtin == GTIN
    assert udi.expiry == datetime.date(2027, 1, 31)
    assert udi.lot == "L1"
    assert udi.serial == "SN1"
    assert udi.digital_link_path == UNIT_PATH


def test_payload_with_leading_fnc1_and_trailing_separator_is_read() -> None:
    assert parse_code(f"{GS}0109506000134352{GS}21SN1{GS}").serial == "SN1"


def test_sscc_is_read_as_a_container() -> None:
    udi = parse_code(f"(00){SSCC}")
    assert udi.is_container
    assert udi.sscc == SSCC
    assert udi.gtin is None
    assert udi.digital_link_path == "/00/106141411234567897"
    assert udi.item_id == keccak(primitive=b"/00/106141411234567897")
    assert parse_code(f"https://x/00/{SSCC}").item_id == udi.item_id
    assert parse_code(f"]C100{SSCC}").item_id == udi.item_id


def test_pallet_label_with_content_gtin_and_count_keeps_the_sscc_and_lot() -> None:
    udi = parse_code(f"(00){SSCC}(02)09506000134352(37)40(10)L1")
    assert udi == Udi(sscc=SSCC, lot="L1")
    assert udi.lot_key is None  # a lot key needs the trade item's GTIN


def test_ean13_scan_is_a_bare_gtin() -> None:
    udi = parse_code("]E09506000134352")
    assert udi == Udi(gtin=GTIN)
    assert not udi.is_container


def test_company_internal_ai_99_is_accepted_and_ignored() -> None:
    assert parse_code("(01)09506000134352(21)SN1(99)ANYTHING") == Udi(gtin=GTIN, serial="SN1")


def test_production_date_is_read_from_ai_11() -> None:
    udi = parse_code("(01)09506000134352(11)250615(21)SN1")
    assert udi.production_date == datetime.date(2025, 6, 15)


def test_expiry_with_day_00_means_the_last_day_of_the_month() -> None:
    assert parse_code("(01)09506000134352(17)270200").expiry == datetime.date(2027, 2, 28)
    assert parse_code("(01)09506000134352(17)280200").expiry == datetime.date(2028, 2, 29)
    assert parse_code("01095060001343521727120021SN1").expiry == datetime.date(2027, 12, 31)


def test_identical_repeated_ai_is_tolerated() -> None:
    assert parse_code("(01)09506000134352(21)SN1(21)SN1").serial == "SN1"


def test_percent_encoded_serial_in_a_digital_link_is_decoded() -> None:
    udi = parse_code("https://x/01/09506000134352/21/A%2FB")
    assert udi.serial == "A/B"
    assert udi.digital_link_path == "/01/09506000134352/21/A%2FB"


# --------------------------------------------------------------------------- parse_code: errors


@pytest.mark.parametrize("text", ["", "   ", "\n\t", GS, "]d2", "]d2  "])
def test_empty_input_is_reported_as_empty(text: str) -> None:
    expect_error("empty", text)


@pytest.mark.parametrize(
    "text",
    [
        "(01)09506000134353(21)SN1",
        "010950600013435321SN1",
        "https://x/01/09506000134353/21/SN1",
        "]d2010950600013435321SN1",
    ],
)
def test_bad_check_digit_is_rejected_in_every_form(text: str) -> None:
    error = expect_error("bad_check_digit", text)
    assert str(error) == "check digit of GTIN 09506000134353 should be 2"


def test_bad_sscc_check_digit_in_a_code_is_rejected() -> None:
    error = expect_error("bad_check_digit", "(00)106141411234567890")
    assert "106141411234567890" in str(error)


@pytest.mark.parametrize(
    "text",
    [
        "(01)09506000134352(23)12345",
        "(23)12345(01)09506000134352",
        "01095060001343522312345",
        "]d20109506000134352\x1d2312345",
    ],
)
def test_undefined_ai_23_is_rejected_as_unknown(text: str) -> None:
    error = expect_error("unknown_ai", text)
    assert "23" in str(error)


@pytest.mark.parametrize(
    "text",
    [
        "(01)09506000134352(17)271301",
        "0109506000134352172713011" + "0L1",
        "https://x/01/09506000134352/21/SN1?17=271301",
        "(01)09506000134352(17)270231(21)SN1",
        "(01)09506000134352(11)270231(21)SN1",
        "https://x/01/09506000134352/21/SN1?17=270231",
        "(01)09506000134352(17)2701",
    ],
)
def test_invalid_dates_are_rejected_as_bad_date(text: str) -> None:
    error = expect_error("bad_date", text)
    assert "27" in str(error)


def test_month_13_expiry_names_the_offending_date() -> None:
    error = expect_error("bad_date", "(01)09506000134352(17)271301")
    assert "271301" in str(error)


@pytest.mark.parametrize(
    "text",
    [
        "(21)SN1(17)270131",
        "https://x/414/9506000134352",
        "]d221SN1",
    ],
)
def test_code_without_gtin_or_sscc_is_missing_gtin(text: str) -> None:
    expect_error("missing_gtin", text)


@pytest.mark.parametrize(
    "text",
    [
        "(01)0950600013435",  # GTIN one digit short
        "(01)09506000134352(10)L(1)(21)",  # "(21)" has no data
        "(01)09506000134352(21)A B",  # whitespace inside a value is not spacing
        "01095060001343521",  # dangling digit
        "hello",
        "https://x/01/09506000134352/21/SN1/10/L1",  # qualifiers out of order
        "https://x/nothing-here",
        "ftp://x/01/09506000134352",
        "]Xzz",
    ],
)
def test_unreadable_codes_are_malformed(text: str) -> None:
    expect_error("malformed", text)


@pytest.mark.parametrize(
    "text",
    [
        "http://x]/",  # urllib: "Invalid IPv6 URL"
        "https://[::1/01/09506000134352/21/SN1",
        "http://[x]/01/09506000134352/21/SN1",  # a bracketed host that is no IP address
        "http://[::1x]/01/09506000134352/21/SN1",
        "]d2http://x]/01/09506000134352/21/SN1",
        "HTTP://x]/01/09506000134352",
    ],
)
def test_a_digital_link_with_a_bad_host_is_malformed_not_a_value_error(text: str) -> None:
    expect_error("malformed", text)
    with pytest.raises(Gs1Error):
        parse_unit(text)


def test_a_digital_link_base_with_a_bad_host_is_malformed() -> None:
    with pytest.raises(Gs1Error) as info:
        Udi(gtin=GTIN, serial="SN1").digital_link_uri(base="http://x]/")
    assert info.value.code == "malformed"


URI_ALPHABET = "0123456789/:[]@%?#=&.-_~hxtpsL" + "\x1d "


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=URI_ALPHABET, max_size=40))
def test_any_host_and_path_after_a_scheme_parses_or_raises_a_gs1_error(text: str) -> None:
    for prefix in ("http://", "https://", "http://[", "https://x/01/09506000134352/21/"):
        try:
            parse_code(prefix + text)
        except Gs1Error:
            pass


def test_same_ai_with_different_data_is_malformed() -> None:
    error = expect_error("malformed", "(01)09506000134352(21)SN1(21)SN2")
    assert "SN1" in str(error)
    assert "SN2" in str(error)


def test_code_with_both_sscc_and_gtin_is_malformed() -> None:
    expect_error("malformed", f"(00){SSCC}(01){GTIN}")


# --------------------------------------------------------------------------- parse_unit


def test_digital_link_with_lot_but_no_serial_parses_but_is_not_a_unit() -> None:
    uri = "https://x/01/09506000134352/10/L1"
    udi = parse_code(uri)
    assert udi == Udi(gtin=GTIN, lot="L1")
    assert udi.lot_key == keccak(primitive=b"/01/09506000134352/10/L1")
    with pytest.raises(Gs1Error) as info:
        parse_unit(uri)
    assert info.value.code == "missing_serial"
    assert GTIN in str(info.value)


def test_parse_unit_returns_a_serialised_device() -> None:
    udi = parse_unit(SAME_UNIT_FORMS[0])
    assert udi.serial == "SN1"
    assert udi.item_id == keccak(primitive=UNIT_PATH.encode())


def test_parse_unit_rejects_a_container_as_missing_gtin() -> None:
    with pytest.raises(Gs1Error) as info:
        parse_unit(f"(00){SSCC}")
    assert info.value.code == "missing_gtin"
    assert SSCC in str(info.value)


def test_parse_unit_passes_through_parse_errors() -> None:
    with pytest.raises(Gs1Error) as info:
        parse_unit("")
    assert info.value.code == "empty"


# --------------------------------------------------------------------------- Udi


def test_udi_normalises_a_gtin13_to_14_digits() -> None:
    assert Udi(gtin="9506000134352", serial="SN1").gtin == GTIN


def test_udi_needs_a_gtin_or_an_sscc() -> None:
    with pytest.raises(Gs1Error) as info:
        Udi(serial="SN1")
    assert info.value.code == "missing_gtin"


def test_udi_cannot_be_both_a_container_and_a_trade_item() -> None:
    with pytest.raises(Gs1Error) as info:
        Udi(gtin=GTIN, sscc=SSCC)
    assert info.value.code == "malformed"


def test_udi_validates_check_digits_and_cset82() -> None:
    with pytest.raises(Gs1Error) as gtin:
        Udi(gtin="09506000134353")
    assert gtin.value.code == "bad_check_digit"
    with pytest.raises(Gs1Error) as serial:
        Udi(gtin=GTIN, serial="é")
    assert serial.value.code == "malformed"
    with pytest.raises(Gs1Error) as lot:
        Udi(gtin=GTIN, lot="")
    assert lot.value.code == "empty"


def test_udi_wants_dates_not_datetimes() -> None:
    with pytest.raises(Gs1Error) as info:
        Udi(gtin=GTIN, expiry=datetime.datetime(2027, 1, 31))  # noqa: DTZ001
    assert info.value.code == "bad_date"


def test_udi_is_frozen() -> None:
    udi = Udi(gtin=GTIN)
    with pytest.raises(AttributeError):
        udi.serial = "x"  # type: ignore[misc]


def test_gtin_without_serial_has_no_item_path() -> None:
    udi = Udi(gtin=GTIN, lot="L1")
    with pytest.raises(Gs1Error) as info:
        _ = udi.digital_link_path
    assert info.value.code == "missing_serial"
    assert GTIN in str(info.value)
    with pytest.raises(Gs1Error):
        _ = udi.item_id


def test_lot_key_is_none_without_a_lot() -> None:
    assert Udi(gtin=GTIN, serial="SN1").lot_key is None


def test_element_string_puts_dates_before_lot_and_serial() -> None:
    udi = Udi(
        gtin=GTIN,
        serial="SN1",
        lot="L1",
        expiry=datetime.date(2027, 1, 31),
        production_date=datetime.date(2025, 6, 15),
    )
    assert udi.element_string() == "(01)09506000134352(11)250615(17)270131(10)L1(21)SN1"
    assert udi.gs1_payload() == "010950600013435211250615172701311" + "0L1\x1d21SN1"


def test_gs1_payload_matches_the_datamatrix_example() -> None:
    udi = parse_code(SAME_UNIT_FORMS[0])
    assert udi.gs1_payload() == "01095060001343521727013110L1\x1d21SN1"
    assert udi.element_string() == "(01)09506000134352(17)270131(10)L1(21)SN1"


def test_digital_link_uri_puts_lot_and_serial_in_the_path_and_dates_in_the_query() -> None:
    udi = Udi(
        gtin=GTIN,
        serial="SN1",
        lot="L1",
        expiry=datetime.date(2027, 1, 31),
        production_date=datetime.date(2025, 6, 15),
    )
    assert udi.digital_link_uri() == (
        "https://id.medledger.example/01/09506000134352/10/L1/21/SN1?11=250615&17=270131"
    )
    assert udi.digital_link_uri(base="https://scan.example/dl/") == (
        "https://scan.example/dl/01/09506000134352/10/L1/21/SN1?11=250615&17=270131"
    )


def test_container_digital_link_uri_has_the_sscc_as_its_path() -> None:
    udi = Udi(sscc=SSCC, lot="L1", expiry=datetime.date(2027, 1, 31))
    assert udi.digital_link_uri() == (
        "https://id.medledger.example/00/106141411234567897?10=L1&17=270131"
    )


def test_digital_link_uri_rejects_a_base_that_is_not_an_http_url() -> None:
    with pytest.raises(Gs1Error) as info:
        Udi(gtin=GTIN).digital_link_uri(base="id.medledger.example")
    assert info.value.code == "malformed"


def test_expiry_that_does_not_fit_the_two_digit_year_window_cannot_be_encoded() -> None:
    udi = Udi(gtin=GTIN, expiry=datetime.date(1900, 1, 1))
    with pytest.raises(Gs1Error) as info:
        udi.element_string()
    assert info.value.code == "bad_date"
    assert "1900-01-01" in str(info.value)


# --------------------------------------------------------------------------- round trips

LEDGER_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-._"
# GS1 CSET 82 without "(", which the parenthesised form cannot carry unambiguously.
CSET82_ALPHABET = LEDGER_ALPHABET + "!\"%&')*+,/:;<=>?"

company_prefixes = st.from_regex(r"[0-9]{6,10}", fullmatch=True).filter(lambda p: p.strip("0"))


@st.composite
def gtins(draw: st.DrawFn) -> str:
    prefix = draw(company_prefixes)
    reference = draw(st.integers(min_value=0, max_value=10 ** (12 - len(prefix)) - 1))
    indicator = draw(st.integers(min_value=0, max_value=8))
    return make_gtin(indicator=indicator, company_prefix=prefix, item_reference=reference)


@st.composite
def ssccs(draw: st.DrawFn) -> str:
    prefix = draw(company_prefixes)
    reference = draw(st.integers(min_value=0, max_value=10 ** (16 - len(prefix)) - 1))
    extension = draw(st.integers(min_value=0, max_value=9))
    return make_sscc(extension=extension, company_prefix=prefix, serial_reference=reference)


dates = st.one_of(st.none(), st.dates(datetime.date(2000, 1, 1), datetime.date(2060, 12, 31)))


def udis(alphabet: str) -> st.SearchStrategy[Udi]:
    values = st.one_of(st.none(), st.text(alphabet=alphabet, min_size=1, max_size=20))
    units = st.builds(
        Udi, gtin=gtins(), serial=values, lot=values, expiry=dates, production_date=dates
    )
    containers = st.builds(Udi, sscc=ssccs(), lot=values, expiry=dates, production_date=dates)
    return st.one_of(units, containers)


@given(udis(LEDGER_ALPHABET))
def test_ledger_safe_udis_round_trip_through_every_output_form(udi: Udi) -> None:
    assert parse_code(udi.element_string()) == udi
    assert parse_code(udi.gs1_payload()) == udi
    assert parse_code(f"]d2{udi.gs1_payload()}") == udi
    assert parse_code(udi.digital_link_uri()) == udi
    assert parse_code(udi.digital_link_uri(base="http://other.example/p")) == udi


@given(udis(CSET82_ALPHABET))
def test_any_gs1_serial_and_lot_round_trip_through_every_output_form(udi: Udi) -> None:
    assert parse_code(udi.element_string()) == udi
    assert parse_code(udi.gs1_payload()) == udi
    assert parse_code(udi.digital_link_uri()) == udi


@given(gtins(), st.text(alphabet=LEDGER_ALPHABET, min_size=1, max_size=20))
def test_item_id_of_a_ledger_safe_unit_is_the_contract_hash(gtin: str, serial: str) -> None:
    udi = Udi(gtin=gtin, serial=ledger_safe(serial, what="serial"))
    raw = f"/01/{gtin}/21/{serial}".encode()
    assert udi.digital_link_path.encode() == raw
    assert udi.item_id == keccak(primitive=raw)
    assert parse_code(udi.digital_link_uri()).item_id == udi.item_id
    assert parse_code(udi.gs1_payload()).item_id == udi.item_id


@given(st.from_regex(r"[0-9]{7,17}", fullmatch=True))
def test_appending_the_check_digit_always_makes_a_valid_key(digits: str) -> None:
    key = f"{digits}{check_digit(digits)}"
    if len(key) in (8, 12, 13, 14):
        assert validate_gtin(key).endswith(key)
    if len(key) == 18:
        assert validate_sscc(key) == key


@pytest.mark.parametrize("code", ["]Yä", "]d", "]Z9x", "]"])
def test_a_garbled_symbology_identifier_is_a_malformed_code_not_a_crash(code: str) -> None:
    with pytest.raises(Gs1Error) as err:
        parse_code(code)
    assert err.value.code in {"malformed", "empty"}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_any_text_either_parses_or_raises_a_gs1_error(text: str) -> None:
    for prefix in ("", "]", "]d2", "(01)", "https://x/01/"):
        try:
            parse_code(prefix + text)
        except Gs1Error:
            pass


@pytest.mark.parametrize(
    ("text", "lot", "serial"),
    [
        ("(01)09506000134352(10)L(1)", "L(1)", None),
        ("(01)09506000134352(10)(A)(21)B)", "(A)", "B)"),
        ("(01)09506000134352(10)L((21)A(B", "L(", "A(B"),
    ],
)
def test_parentheses_inside_cset82_data_are_read_as_data(
    text: str, lot: str, serial: str | None
) -> None:
    udi = parse_code(text)
    assert (udi.lot, udi.serial) == (lot, serial)
    assert udi.element_string() == text


def test_a_bare_18_digit_sscc_is_read_as_a_container() -> None:
    sscc = make_sscc(extension=0, company_prefix="9506000", serial_reference=1)
    assert parse_code(f" {sscc} ") == Udi(sscc=sscc)
    expect_error("bad_check_digit", sscc[:-1] + str((int(sscc[-1]) + 1) % 10))
