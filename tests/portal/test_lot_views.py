"""Quantities of lot-tracked devices where people look, in zh-CN and English with each
locale's number format: the verification page's sentence, the stock pages, the recall
centre and the lot trace (each member seeing only its own part)."""

from __future__ import annotations

import html
import re

from eth_utils import keccak

from tests.api.lot_env import IN_SUPPLY, lot_world
from tests.api.partner_env import PartnerEnv
from tests.portal.conftest import PortalEnv
from tests.portal.regulator_env import regulator_app_client, sign_in


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


def _row(page: str, address: str) -> dict[str, str]:
    """The `data-units` cells of the table row of `address`."""
    found = re.search(rf'<tr data-holder="{address}"[^>]*>(.*?)</tr>', page, flags=re.S)
    assert found, address
    return dict(re.findall(r'data-units="(\w+)">([^<]*)<', found.group(1)))


def test_the_recall_centre_and_the_notices_count_units_per_holder(
    portal: PortalEnv, partner: PartnerEnv
) -> None:
    world = lot_world(partner)
    c = partner.api.consortium
    recall = c.regulator.recall_lot(world.key, level=2, reason_hash=keccak(text="seal")).value
    partner.api.sync()
    regulator = sign_in(regulator_app_client(portal, lang="zh"), "regulator")
    page = regulator.get(f"/portal/regulator/recalls/{recall}/progress").text
    assert _row(page, c.distributor.address) == {
        "outstanding": "380",
        "active": "150",
        "quarantined": "0",
        "in_transit": "30",
        "cases": "2 箱 · 共 200 件",
    }
    assert _row(page, c.hospital.address)["quarantined"] == "10"
    # The manufacturer's 1,020 unshipped units are not 'returned': nothing came back yet.
    assert re.search(r'data-figure="returned">0<', page)
    assert re.search(r'data-figure="outstanding">440<', page)
    assert "按数量追溯" in page
    assert "一次性使用无菌注射器 · 5ml 带针 0.6×25TWLB · 国械注准20153150001" in _text(page)

    hospital = portal.sign_in("hospital", lang="en").get("/portal/recalls").text
    notice = _text(hospital)
    assert f"Recall #{recall}" in notice
    assert "Loose, active 50 Quarantined 10" in notice
    assert "Sterile single-use syringe · 5ml" in notice
    assert c.distributor.address not in hospital
    distributor = _text(portal.sign_in("distributor", lang="en").get("/portal/recalls").text)
    assert "In cases 2 cases · 200 units" in distributor


def test_the_stock_pages_list_lot_tracked_stock_in_units_with_the_product_name(
    portal: PortalEnv, partner: PartnerEnv
) -> None:
    world = lot_world(partner)
    page = portal.sign_in("distributor", lang="zh").get("/portal/distributor").text
    found = re.search(
        rf'<tr class="\w+" data-lot="{world.lot}" data-gtin="{world.gtin}">(.*?)</tr>', page, re.S
    )
    assert found
    cells = dict(re.findall(r'data-units="(\w+)">([^<]*)<', found.group(1)))
    assert cells == {
        "active": "150",
        "quarantined": "0",
        "in_transit": "30",
        "cases": "2 箱 · 共 200 件",
        "total": "380",
    }
    assert "一次性使用无菌注射器" in found.group(1) and "5ml 带针" in found.group(1)
    assert 'data-status="active"' not in page  # no case counted as a serialised unit
    hospital = portal.sign_in("hospital", lang="en").get("/portal/hospital").text
    row = re.search(rf'data-lot="{world.lot}" data-gtin="{world.gtin}">(.*?)</tr>', hospital, re.S)
    assert row and "Sterile single-use syringe" in row.group(1)
    units = dict(re.findall(r'data-units="(\w+)">([^<]*)<', row.group(1)))
    assert (units["active"], units["quarantined"], units["total"]) == ("50", "10", "60")
    maker = portal.sign_in("manufacturer", lang="en").get("/portal/stock").text
    assert re.search(r'data-units="total">1,020<', maker)


def test_the_lot_stock_api_answers_only_for_the_caller(partner: PartnerEnv) -> None:
    world = lot_world(partner)
    c, client = partner.api.consortium, partner.api.client
    mine = client.get("/v1/partner/inventory/lots", headers=partner.login(c.hospital))
    assert mine.status_code == 200, mine.text
    (line,) = mine.json()
    assert (line["gtin"], line["lot_number"], line["active"], line["quarantined"]) == (
        world.gtin,
        world.lot,
        50,
        10,
    )
    assert line["name_zh"] == "一次性使用无菌注射器" and line["total"] == 60
    assert client.get("/v1/partner/inventory/lots", headers=partner.login(c.logistics)).json() == []
    assert client.get("/v1/partner/inventory/lots").status_code == 401


def test_the_trace_explorer_tells_a_lots_quantity_movements_each_member_its_part(
    portal: PortalEnv, partner: PartnerEnv
) -> None:
    world = lot_world(partner)
    code = f"(01){world.gtin}(10){world.lot}"
    maker = portal.sign_in("manufacturer", lang="en").get("/portal/trace", params={"code": code})
    assert maker.status_code == 200, maker.text
    kinds = re.findall(r'<li data-kind="(\w+)">([^<]*)', maker.text)
    assert [k for k, _ in kinds] == [
        "commissioned",
        "shipped",
        "received",
        "rejected",
        "shipped",
        "received",
        "dispensed",
        "quarantined",
        "shipped",
    ]
    assert "commissioned 1,500 units" in kinds[0][1]
    assert "rejected 20 units from" in html.unescape(kinds[3][1])
    assert re.search(r'data-units="total">1,020<', maker.text)

    hospital = portal.sign_in("hospital", lang="zh").get("/portal/trace", params={"code": code})
    mine = re.findall(r'<li data-kind="(\w+)">([^<]*)', hospital.text)
    assert [k for k, _ in mine] == ["shipped", "received", "dispensed", "quarantined", "shipped"]
    assert "使用 40 件" in mine[2][1]
    assert len(re.findall(r"<tr data-holder=", hospital.text)) == 1
    stranger = portal.sign_in("logistics", lang="en").get("/portal/trace", params={"code": code})
    assert 'data-kind="' not in stranger.text
