"""Quantities of lot-tracked devices where people look, in zh-CN and English with each
locale's number format: the verification page's sentence, the stock pages, the recall
centre and the lot trace (each member seeing only its own part)."""

from __future__ import annotations

import html
import re

from tests.api.lot_env import IN_SUPPLY, lot_world
from tests.api.partner_env import PartnerEnv
from tests.portal.conftest import PortalEnv


def _text(page: str) -> str:
    body = page.split("<main", 1)[-1]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def test_the_verify_page_says_how_many_units_of_the_lot_are_in_the_supply_chain(
    portal: PortalEnv, partner: PartnerEnv
) -> None:
    world = lot_world(partner)
    code = f"(01){world.box_gtin}(10){world.lot}"
    zh = _text(portal.client(lang="zh").get("/portal/verify", params={"code": code}).text)
    assert f"该批次仍有 {IN_SUPPLY:,} 件在供应链中。" in zh
    assert "一次性使用无菌注射器" in zh and "国械注准20153150001" in zh
    en = _text(portal.client(lang="en").get("/portal/verify", params={"code": code}).text)
    assert f"{IN_SUPPLY:,} units of this lot are still in the supply chain." in en
    assert "Sterile single-use syringe" in en
