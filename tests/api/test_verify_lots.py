"""Lot codes (GTIN + lot [+ expiry], no serial) on `/v1/verify` and the Digital Link
resolver: genuine lot or not, expiry checked against the ledger, recall, and always the
statement that a lot code cannot prove one box unique."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak

from medledger.sdk.dates import day_of
from medledger.sdk.gs1 import Udi, lot_key
from tests.api.conftest import ApiEnv


def _lot_code(api: ApiEnv, **changes: Any) -> Udi:
    c = api.consortium
    lot = c.manufacturer.lot(c.lot_key)
    assert lot is not None
    fields: dict[str, Any] = {"gtin": c.gtin, "lot": c.lot, "expiry": day_of(lot.expiry)}
    fields.update(changes)
    return Udi(**fields)


def _verify(api: ApiEnv, code: str) -> dict[str, Any]:
    response = api.client.post("/v1/verify", json={"code": code})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _codes(answer: dict[str, Any]) -> set[str]:
    return {r["code"] for r in answer["reasons"]}


def test_a_registered_lot_is_genuine_as_a_lot_in_every_form_and_never_claims_uniqueness(
    api: ApiEnv,
) -> None:
    api.sync()
    udi = _lot_code(api)
    forms = [
        udi.element_string(),
        udi.gs1_payload(),
        "]d2" + udi.gs1_payload(),
        "]d2\x1d" + udi.gs1_payload(),
        udi.digital_link_uri(),
        "]Q3" + udi.digital_link_uri(),
    ]
    answers = [_verify(api, form) for form in forms]
    for answer in answers:
        answer.pop("checked_at"), answer.pop("checked_at_iso")
    first = answers[0]
    assert all(answer == first for answer in answers[1:])
    assert first["verdict"] == "genuine"
    assert first["scope"] == "lot"
    assert _codes(first) == {"lot_registered", "lot_code_not_unique"}
    assert first["code"]["item_id"] == "0x" + api.consortium.lot_key.hex()
    assert first["code"]["serial"] is None
    assert first["lot"]["lot"] == api.consortium.lot
    assert first["lot"]["expiry"] == udi.expiry.isoformat()  # type: ignore[union-attr]
    assert first["quantities_in_supply_chain"] is None
    assert first["product"]["manufacturer"] == "Shanghai MedTech Devices Co."
    assert [ref["event"] for ref in first["chain"]] == ["lot_registered"]


def test_a_lot_code_without_expiry_and_the_resolver_path_answer_too(api: ApiEnv) -> None:
    api.sync()
    c = api.consortium
    bare = _verify(api, f"(01){c.gtin}(10){c.lot}")
    assert bare["verdict"] == "genuine" and bare["scope"] == "lot"
    resolved = api.client.get(f"/01/{c.gtin}/10/{c.lot}", headers={"accept": "application/json"})
    assert resolved.status_code == 200
    assert resolved.json()["scope"] == "lot"
    assert resolved.json()["verdict"] == "genuine"


def test_a_lot_code_whose_expiry_differs_from_the_ledger_is_suspect(api: ApiEnv) -> None:
    api.sync()
    udi = _lot_code(api)
    assert udi.expiry is not None
    wrong = _lot_code(api, expiry=udi.expiry.replace(year=udi.expiry.year + 1))
    answer = _verify(api, wrong.element_string())
    assert answer["verdict"] == "suspect"
    assert "expiry_mismatch" in _codes(answer)


def test_an_unregistered_lot_is_unknown_and_an_unregistered_gtin_is_unknown_product(
    api: ApiEnv,
) -> None:
    api.sync()
    c = api.consortium
    answer = _verify(api, f"(01){c.gtin}(10)NOSUCHLOT")
    assert answer["verdict"] == "unknown"
    assert _codes(answer) == {"unknown_lot", "lot_code_not_unique"}
    assert answer["code"]["item_id"] == "0x" + lot_key(c.gtin, "NOSUCHLOT").hex()
    assert answer["lot"] is None
    other = _verify(api, "(01)09506000134376(10)L1")
    assert other["verdict"] == "unknown" and "unknown_product" in _codes(other)


def test_a_recalled_lot_code_is_recalled_with_the_recall_on_chain(api: ApiEnv) -> None:
    c = api.consortium
    c.manufacturer.recall_lot(c.lot_key, level=1, reason_hash=keccak(text="seal"))
    api.sync()
    answer = _verify(api, f"(01){c.gtin}(10){c.lot}")
    assert answer["verdict"] == "recalled"
    assert answer["lot"]["recalled"] is True and answer["lot"]["recall_level"] == 1
    assert "recall_opened" in {ref["event"] for ref in answer["chain"]}


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("(01)09506000134352(10)", "malformed"),
        ("(01)09506000134353(10)L1", "bad_check_digit"),
        ("(01)09506000134352(17)281341(10)L1", "bad_date"),
        ("0109506000134352", "missing_serial"),
        ("https://id.example/01/09506000134352", "missing_serial"),
        ("(01)09506000134352(10)ABCDEFGHIJKLMNOPQRSTU", "malformed"),
    ],
)
def test_a_malformed_lot_code_is_a_400_naming_the_fault(
    api: ApiEnv, code: str, reason: str
) -> None:
    response = api.client.post("/v1/verify", json={"code": code})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == reason
