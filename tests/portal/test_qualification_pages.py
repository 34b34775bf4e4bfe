"""首营审核 / Supplier & product approvals in the portal (real app, eth-tester, real
indexer): the distributor sees the manufacturer's licence, approves it with the licence
copy attached (stored encrypted, shared with the supplier, listed in the sealed record),
sets its policy, approves the product, and withdraws; in both languages."""

from __future__ import annotations

from medledger.domain import records
from tests.api import partner_env
from tests.portal.conftest import PortalEnv
from tests.portal.test_partner_pages import post

partner = partner_env.partner

COPY = b"%PDF-1.4 licence copy"


def test_a_distributor_approves_its_supplier_with_the_licence_copy(portal: PortalEnv) -> None:
    c = portal.api.consortium
    portal.api.sync()
    client = portal.sign_in("distributor", lang="zh")
    page = client.get("/portal/qualification", params={"supplier": c.manufacturer.address})
    assert page.status_code == 200, page.text
    assert "首营审核" in page.text
    assert "LIC-" in page.text  # the supplier's attested licence number
    approved = post(
        client,
        "/portal/qualification/suppliers",
        {"supplier": c.manufacturer.address, "document_kind": "licence", "note": "已核对"},
        page=f"/portal/qualification?supplier={c.manufacturer.address}",
        files={"documents": ("licence.pdf", COPY, "application/pdf")},
    )
    assert approved.status_code == 200, approved.text
    record = c.distributor.supplier_approval(c.distributor.address, c.manufacturer.address)
    assert record is not None
    view = records.by_commitment(
        portal.api.services, record, reader=c.manufacturer.address, regulator=False
    )
    assert view is not None
    (doc,) = view.body["documents"]
    assert doc["kind"] == "licence" and doc["filename"] == "licence.pdf"
    assert view.body["note"] == "已核对"

    policy = post(
        client, "/portal/qualification/policy", {"policy": "refuse"}, page="/portal/qualification"
    )
    assert policy.status_code == 200, policy.text
    assert int(c.distributor.approval_policy(c.distributor.address)) == 2
    product = post(
        client,
        "/portal/qualification/products",
        {"gtin": c.gtin, "note": ""},
        page="/portal/qualification",
    )
    assert product.status_code == 200, product.text
    assert c.distributor.product_approval(c.distributor.address, c.gtin) is not None
    portal.api.sync()
    listed = client.get("/portal/qualification")
    assert f'data-supplier="{c.manufacturer.address}"' in listed.text
    assert f'data-gtin="{c.gtin}"' in listed.text

    withdrawn = post(
        client,
        "/portal/qualification/withdraw",
        {"supplier": c.manufacturer.address},
        page="/portal/qualification",
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert c.distributor.supplier_approval(c.distributor.address, c.manufacturer.address) is None


def test_the_page_speaks_english_and_refuses_a_bad_gtin(portal: PortalEnv) -> None:
    client = portal.sign_in("hospital", lang="en")
    page = client.get("/portal/qualification")
    assert "Supplier &amp; product approvals" in page.text
    bad = post(
        client, "/portal/qualification/products", {"gtin": "123"}, page="/portal/qualification"
    )
    assert bad.status_code == 422, bad.text


def test_the_receive_form_seals_a_full_acceptance_record(portal: PortalEnv) -> None:
    c = portal.api.consortium
    units = c.manufacturer.commission(c.lot_key, ["PR1", "PR2"]).value
    shipment_id = c.manufacturer.ship(c.distributor.address, units).value
    portal.api.sync()
    distributor = portal.sign_in("distributor", lang="zh")
    form_url = f"/portal/shipments/inbound/{shipment_id}"
    form = distributor.get(form_url).text
    tag = f"{c.gtin}:{c.lot}"
    assert f'data-record-lot="{tag}"' in form
    done = post(
        distributor,
        form_url,
        {
            "reject": "0x" + units[1].hex(),
            f"count:{tag}": "1",
            f"conclusion:{tag}": "unqualified",
            f"spec:{tag}": "3.0 x 18 mm",
            f"reg:{tag}": "国械注准20263130001",
            "temp_min": "4",
            "temp_max": "6",
            "excursion_minutes": "0",
            "arrival_temp": "5.5",
            "note": "一支包装破损",
        },
    )
    assert done.status_code == 200, done.text
    event = c.distributor.shipment(shipment_id)
    assert event.status.name == "RECEIVED"
    record_page = distributor.get(f"/portal/shipments/acceptance/{shipment_id}")
    assert record_page.status_code == 200, record_page.text
    text = record_page.text
    assert "验收记录" in text and "规格型号" in text and "国械注准20263130001" in text
    assert 'data-conclusion="unqualified"' in text and "data-inspector>distributor<" in text
    # the sender (manufacturer) reads it too; a hospital that is no party does not
    maker = portal.sign_in("manufacturer", lang="en")
    assert maker.get(f"/portal/shipments/acceptance/{shipment_id}").status_code == 200
    outsider = portal.sign_in("hospital", lang="en")
    assert outsider.get(f"/portal/shipments/acceptance/{shipment_id}").status_code == 404
