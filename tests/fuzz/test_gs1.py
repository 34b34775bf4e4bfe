"""Fuzz target: every `sdk.gs1` function that reads a code, a key or a serial from outside,
and the EPC reader of EPCIS capture (`api.epcis.identifiers.parse_epc`). Valid codes in
every form, damaged; only `Gs1Error` may escape, and a code that parses writes back out
to a code that parses to the same unit (its scanned payload and Digital Link forms)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from medledger.api.epcis.identifiers import member_of_uri, parse_epc
from medledger.sdk.errors import Gs1Error
from medledger.sdk.gs1 import (
    Udi,
    check_digit,
    company_prefix_of,
    item_id,
    ledger_safe,
    lot_path,
    parse_code,
    parse_unit,
    unit_path,
    validate_gtin,
    validate_sscc,
)
from tests.fuzz.budget import fuzz
from tests.fuzz.known import tolerated
from tests.fuzz.mutate import mutated_text
from tests.fuzz.seeds import codes, epc_uris, gtins, serials, ssccs

hostile_codes = st.one_of(
    codes(),
    codes().flatmap(mutated_text),
    st.text(max_size=60),
    st.text("0123456789()", max_size=40),
)


def _parsed(text: str) -> Udi | None:
    with tolerated():
        try:
            return parse_code(text)
        except Gs1Error as exc:
            assert exc.code, text
    return None


@fuzz(1500)
@given(text=hostile_codes)
@example("http://x]/")
@example("https://[::1/01/09506000134352/21/SN1")
@example("(01)09506000134352(21)SN1\x00")
def test_reading_any_code_gives_a_udi_or_a_gs1_error(text: str) -> None:
    udi = _parsed(text)
    with tolerated():
        try:
            parse_unit(text)
        except Gs1Error:
            pass
    if udi is None:
        return
    udi.element_string()  # for people: a "(" in a serial makes it ambiguous, so not re-read
    for written in (udi.gs1_payload(), udi.digital_link_uri()):
        assert parse_code(written) == udi, (text, written)


@fuzz(300)
@given(text=st.one_of(codes(), codes().flatmap(mutated_text)))
def test_a_code_that_reads_has_a_ledger_path_or_a_gs1_error(text: str) -> None:
    udi = _parsed(text)
    if udi is None:
        return
    try:
        path = udi.digital_link_path
    except Gs1Error:
        return
    assert len(item_id(path)) == 32
    if udi.lot_key is not None:
        assert len(udi.lot_key) == 32


keys = st.one_of(gtins, ssccs).flatmap(lambda k: st.one_of(st.just(k), mutated_text(k)))


@fuzz(400)
@given(key=keys, prefix=st.one_of(st.text("0123456789", max_size=12), st.text(max_size=4)))
def test_keys_and_prefixes_are_checked_or_refused_with_a_gs1_error(key: str, prefix: str) -> None:
    for check in (
        validate_gtin,
        validate_sscc,
        check_digit,
        lambda k: company_prefix_of(k, prefix),
        lambda k: item_id(k),
    ):
        try:
            check(key)
        except Gs1Error as exc:
            assert exc.code


@fuzz(300)
@given(key=gtins, value=st.one_of(serials, serials.flatmap(mutated_text), st.text(max_size=30)))
def test_serials_and_lots_are_checked_or_refused_with_a_gs1_error(key: str, value: str) -> None:
    for check in (
        lambda v: ledger_safe(v, what="serial"),
        lambda v: unit_path(key, v),
        lambda v: lot_path(key, v),
    ):
        try:
            check(value)
        except Gs1Error as exc:
            assert exc.code


@fuzz(600)
@given(uri=st.one_of(epc_uris(), epc_uris().flatmap(mutated_text), st.text(max_size=60)))
@example("http://x]/")
@example("urn:epc:id:sgtin:0614141.107346.%")
@example("urn:epc:id:sscc:٠٦١٤١٤١.1234567890")
def test_any_epc_is_a_unit_a_container_or_a_gs1_error(uri: str) -> None:
    with tolerated():
        try:
            path = parse_epc(uri).path
        except Gs1Error as exc:
            assert exc.code
            return
        assert path.startswith(("/01/", "/00/"))


@pytest.mark.parametrize("chain_id", [1, 1337])
@fuzz(100)
@given(uri=st.text(max_size=80).map(lambda t: "did:pkh:eip155:1337:" + t))
def test_a_party_uri_names_a_member_or_nobody(chain_id: int, uri: str) -> None:
    member = member_of_uri(uri, chain_id)
    assert member is None or member.startswith("0x")
