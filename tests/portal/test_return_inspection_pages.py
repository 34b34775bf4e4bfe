"""The return-inspection page through the real app: goods a distributor rejected wait on
the manufacturer's page (in Chinese and English), not on anyone else's; the manufacturer
records the inspection with a destroy disposition, which is carried out on the ledger;
another member posting to the shipment gets the not-found sentence."""

from __future__ import annotations

from medledger.ops.demo.consortium import DEMO_LOT
from medledger.sdk.model import ItemStatus
from tests.portal.conftest import PortalEnv
from tests.portal.test_partner_pages import post

PAGE = "/portal/return-inspections"


def test_the_sender_inspects_rejected_goods_and_destroys_them(portal: PortalEnv) -> None:
    c = portal.api.consortium
    units = c.manufacturer.commission(c.lot_key, ["RIP1", "RIP2"]).value
    shipment = c.manufacturer.ship(c.distributor.address, units).value
    c.distributor.receive(shipment, temp_min=50, temp_max=80, rejected_ids=[units[1]])
    portal.api.sync()

    zh = portal.sign_in("manufacturer")
    page = zh.get(PAGE)
    assert page.status_code == 200
    assert "等待退货验收" in page.text and f"/portal/return-inspections/{shipment}" in page.text
    assert DEMO_LOT in page.text and "RIP2" in page.text and "RIP1" not in page.text
    distributor = portal.sign_in("distributor", lang="en")
    assert f"/portal/return-inspections/{shipment}" not in distributor.get(PAGE).text
    refused = post(
        distributor,
        f"{PAGE}/{shipment}",
        {
            "line_count": "1",
            "gtin_0": c.gtin,
            "lot_0": DEMO_LOT,
            "received_0": "1",
            "disposition_0": "destroy",
            "inspector": "Li",
        },
        page=PAGE,
    )
    assert refused.status_code == 400
    assert "No goods of this shipment came back to you" in refused.text
    assert c.manufacturer.item(units[1]).status is ItemStatus.ACTIVE

    en = portal.sign_in("manufacturer", lang="en")
    done = post(
        en,
        f"{PAGE}/{shipment}",
        {
            "line_count": "1",
            "gtin_0": c.gtin,
            "lot_0": DEMO_LOT,
            "received_0": "1",
            "condition_0": "seal broken",
            "disposition_0": "destroy",
            "note_0": "not fit for sale",
            "inspector": "Zhang Wei",
            "note": "",
        },
        page=PAGE,
    )
    assert done.status_code == 200, done.text
    assert f"The return inspection of shipment {shipment} is recorded." in done.text
    assert c.manufacturer.item(units[1]).status is ItemStatus.DESTROYED
    assert c.manufacturer.item(units[0]).status is not ItemStatus.DESTROYED
    portal.api.sync()
    assert f"/portal/return-inspections/{shipment}" not in en.get(PAGE).text
