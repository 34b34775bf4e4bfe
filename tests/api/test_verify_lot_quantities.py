"""A lot code of a lot-tracked product answers how many of its units are still in the supply
chain, names the product from its master data, and a box's GTIN with the lot answers for
the lot of the product inside it."""

from __future__ import annotations

from typing import Any

from tests.api import partner_env
from tests.api.lot_env import IN_SUPPLY, lot_world
from tests.api.partner_env import PartnerEnv

partner = partner_env.partner


def _verify(partner: PartnerEnv, code: str) -> dict[str, Any]:
    response = partner.api.client.post("/v1/verify", json={"code": code})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_a_lot_code_counts_the_units_in_the_supply_chain_and_a_box_code_answers_for_its_lot(
    partner: PartnerEnv,
) -> None:
    world = lot_world(partner)
    m = partner.api.consortium.manufacturer
    assert m.lot_supply(world.index) == IN_SUPPLY
    answer = _verify(partner, f"(01){world.gtin}(10){world.lot}")
    assert answer["verdict"] == "genuine" and answer["scope"] == "lot"
    assert answer["quantities_in_supply_chain"] == IN_SUPPLY
    assert answer["product"]["name_zh"] == "一次性使用无菌注射器"
    assert answer["product"]["model"] == "5ml 带针 0.6×25TWLB"
    assert answer["product"]["registration_number"] == "国械注准20153150001"

    boxed = _verify(partner, f"(01){world.box_gtin}(10){world.lot}")
    assert boxed["verdict"] == "genuine" and boxed["scope"] == "lot"
    assert boxed["code"]["gtin"] == world.box_gtin
    assert boxed["code"]["item_id"] == "0x" + world.key.hex()
    assert boxed["product"]["gtin"] == world.gtin
    assert boxed["quantities_in_supply_chain"] == IN_SUPPLY

    case = _verify(partner, f"(01){world.box_gtin}(10){world.lot}(21)B1")
    assert case["scope"] == "unit" and case["verdict"] == "genuine", case["reasons"]
    assert case["product"]["name_en"] == "Sterile single-use syringe"

    unknown = _verify(partner, f"(01){world.box_gtin}(10)NOSUCHLOT")
    assert unknown["verdict"] == "unknown" and unknown["quantities_in_supply_chain"] is None
    assert {r["code"] for r in unknown["reasons"]} == {"unknown_lot", "lot_code_not_unique"}
    assert unknown["product"]["gtin"] == world.gtin
