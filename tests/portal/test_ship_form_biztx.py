"""The portal's ship form takes the purchase order, despatch advice and invoice numbers
and the ship-from/ship-to sites into the sealed delivery note: labelled in Chinese, a site
that is not the sender's or receiver's refused on its own field, and what was shipped is
exported to the sender as `bizTransactionList` and locations."""

from __future__ import annotations

from medledger.ops.demo.consortium import DEMO_PREFIX, DISTRIBUTOR_PREFIX
from medledger.sdk.gs1 import make_gln
from tests.api.partner_env import PartnerEnv
from tests.portal.conftest import PortalEnv
from tests.portal.test_partner_pages import commission, post

WAREHOUSE = make_gln(company_prefix=DEMO_PREFIX, location_reference=51)
STORE = make_gln(company_prefix=DISTRIBUTOR_PREFIX, location_reference=52)


def test_the_ship_form_seals_business_numbers_and_sites(
    portal: PortalEnv, partner: PartnerEnv
) -> None:
    c = portal.api.consortium
    c.manufacturer.register_site(WAREHOUSE, name="苏州仓库")
    c.distributor.register_site(STORE, name="嘉定仓库")
    portal.api.sync()
    maker = portal.sign_in("manufacturer", lang="zh")
    page = maker.get("/portal/shipments/outbound").text
    for label in ("采购订单号", "发货通知单号", "发票号", "发货场所", "收货场所"):
        assert label in page
    assert f'value="{WAREHOUSE}"' in page and f'value="{STORE}"' in page

    units = commission(portal, maker, "BZ", 1)
    form: dict[str, object] = {
        "receiver": c.distributor.address,
        "contents": units[0],
        "po": "PO-5150",
        "desadv": "DA-5150",
        "inv": "",
        "ship_from_site": WAREHOUSE,
        "ship_to_site": WAREHOUSE,  # the sender's own site, not the receiver's
    }
    refused = post(maker, "/portal/shipments/outbound", form)
    assert refused.status_code == 400, refused.text
    assert 'data-code="ship_to_not_receiver_site"' in refused.text
    assert "收货场所不是收货方的全球位置码" in refused.text
    assert 'aria-invalid="true"' in refused.text.split('id="f-ship_to_site"')[1].split(">")[0]

    too_long = post(maker, "/portal/shipments/outbound", {**form, "po": "P" * 129})
    assert too_long.status_code == 422, too_long.text
    assert 'aria-invalid="true"' in too_long.text.split('id="f-po"')[1].split(">")[0]

    shipped = post(maker, "/portal/shipments/outbound", {**form, "ship_to_site": STORE})
    assert shipped.status_code == 303, shipped.text
    portal.api.sync()
    epc = f"https://id.example.com/01/{c.gtin}/21/BZ0001"
    events = partner.api.client.get(
        "/v1/epcis/events", params={"MATCH_epc": epc}, headers=partner.login(c.manufacturer)
    ).json()
    shipping = next(
        e
        for e in events["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        if e["bizStep"] == "shipping"
    )
    assert shipping["bizTransactionList"] == [
        {"type": "po", "bizTransaction": f"urn:epcglobal:cbv:bt:{STORE}:PO-5150"},
        {"type": "desadv", "bizTransaction": f"urn:epcglobal:cbv:bt:{WAREHOUSE}:DA-5150"},
    ]
    assert shipping["readPoint"]["id"] == f"urn:epc:id:sgln:{DEMO_PREFIX}.{WAREHOUSE[7:12]}.0"
