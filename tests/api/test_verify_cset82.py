"""Serials and lots with any GS1 CSET 82 character reach a verdict through every form,
including the Digital Link resolver, where '/' arrives percent-encoded as %2F."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from medledger.sdk.gs1 import Udi, item_id, lot_key, unit_path
from tests.api.conftest import ApiEnv

ODD = ["A/B", "A%B", 'Q"?&<>', "x(1)y", "!*+,:;=", "'%2F'"]


@pytest.mark.parametrize("serial", ODD)
def test_an_odd_serial_has_one_id_in_every_form_and_through_the_resolver(
    api: ApiEnv, serial: str
) -> None:
    c = api.consortium
    udi = Udi(gtin=c.gtin, serial=serial)
    expected = "0x" + item_id(unit_path(c.gtin, serial)).hex()
    for form in (udi.element_string(), udi.gs1_payload(), udi.digital_link_uri()):
        answer = api.client.post("/v1/verify", json={"code": form}).json()
        assert answer["code"]["serial"] == serial, form
        assert answer["code"]["item_id"] == expected, form
        assert answer["verdict"] == "unknown"
    resolved = api.client.get(
        f"/01/{c.gtin}/21/{quote(serial, safe='')}", headers={"accept": "application/json"}
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["code"]["serial"] == serial
    assert resolved.json()["code"]["item_id"] == expected


@pytest.mark.parametrize("lot", ODD)
def test_an_odd_lot_code_resolves_to_its_lot_key(api: ApiEnv, lot: str) -> None:
    c = api.consortium
    path = f"/01/{c.gtin}/10/{quote(lot, safe='')}"
    resolved = api.client.get(path, headers={"accept": "application/json"})
    assert resolved.status_code == 200, resolved.text
    answer: dict[str, Any] = resolved.json()
    assert answer["scope"] == "lot" and answer["code"]["lot"] == lot
    assert answer["code"]["item_id"] == "0x" + lot_key(c.gtin, lot).hex()
    with_serial = api.client.get(path + "/21/S%2F1", headers={"accept": "application/json"})
    assert with_serial.status_code == 200 and with_serial.json()["code"]["serial"] == "S/1"


def test_a_resolver_path_that_is_no_digital_link_is_a_400_naming_why(api: ApiEnv) -> None:
    c = api.consortium
    bare = api.client.get(f"/01/{c.gtin}", headers={"accept": "application/json"})
    assert bare.status_code == 400 and bare.json()["code"] == "missing_serial"
    too_long = api.client.get(
        f"/01/{c.gtin}/21/{'A%2F' * 11}", headers={"accept": "application/json"}
    )
    assert too_long.status_code == 400 and too_long.json()["code"] == "malformed"
