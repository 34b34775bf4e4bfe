"""EPC URNs carry any GS1 CSET 82 serial with the Tag Data Standard's escaping, and read
back to the same unit id as the Digital Link form."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medledger.api.epcis.identifiers import epc_escape, parse_epc, sgtin_urn, unit_uri
from medledger.sdk.errors import Gs1Error
from medledger.sdk.gs1 import item_id, unit_path

CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
GTIN = "09506000134352"


def test_the_seven_characters_tds_requires_are_escaped_and_no_others() -> None:
    assert epc_escape('"%&/<>?') == "%22%25%26%2F%3C%3E%3F"
    rest = "".join(c for c in CSET82 if c not in '"%&/<>?')
    assert epc_escape(rest) == rest


@settings(max_examples=200, deadline=None)
@given(serial=st.text(alphabet=CSET82, min_size=1, max_size=20))
def test_every_cset82_serial_round_trips_through_an_sgtin_urn(serial: str) -> None:
    urn = sgtin_urn(GTIN, serial, company_prefix_length=7)
    assert urn.startswith("urn:epc:id:sgtin:9506000.013435.")
    epc = parse_epc(urn)
    assert (epc.gtin, epc.serial) == (GTIN, serial)
    assert epc.path == unit_path(GTIN, serial)
    via_link = parse_epc(unit_uri("https://id.example", GTIN, serial))
    assert item_id(via_link.path) == item_id(epc.path)


@pytest.mark.parametrize(
    "urn",
    [
        "urn:epc:id:sgtin:9506000.013435.A/B",  # '/' must be %2F
        "urn:epc:id:sgtin:9506000.013435.A?B",
        "urn:epc:id:sgtin:9506000.013435.100%",  # a broken escape
        "urn:epc:id:sgtin:9506000.013435.A%7E",  # '~' is not CSET 82
        "urn:epc:id:sgtin:9506000.013435." + "A" * 21,
    ],
)
def test_a_serial_breaking_the_escaping_or_cset82_is_malformed(urn: str) -> None:
    with pytest.raises(Gs1Error) as info:
        parse_epc(urn)
    assert info.value.code == "malformed"
