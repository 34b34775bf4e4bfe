"""The import templates on the portal: every supply-chain member (not only a
manufacturer) reaches the bulk import page, its template links in the page's language,
and each template's header row; the regulator does not."""

from __future__ import annotations

from medledger.domain.bulk_import.templates import template_csv
from tests.portal.conftest import PortalEnv


def test_a_distributor_downloads_the_shipment_and_receipt_templates(portal: PortalEnv) -> None:
    zh = portal.sign_in("distributor", lang="zh")
    page = zh.get("/portal/imports")
    assert page.status_code == 200, page.text
    assert "到货验收" in page.text and "/portal/imports/templates/receipts.csv" in page.text
    for kind, first in (("shipments", "发货单号"), ("receipts", "发货单编号")):
        answer = zh.get(f"/portal/imports/templates/{kind}.csv")
        assert answer.status_code == 200 and answer.content == template_csv(kind, chinese=True)
        assert answer.content.decode("utf-8-sig").split(",")[0] == first
        assert "attachment" in answer.headers["content-disposition"]
    en = zh.get("/portal/imports/templates/shipments.csv?lang=en").content.decode("utf-8-sig")
    assert en.startswith("reference,receiver,code,gtin,lot,quantity")
    assert zh.get("/portal/imports/templates/nothing.csv").status_code == 404
    assert zh.get("/portal/imports/templates/receipts.txt").status_code == 404
    english = portal.sign_in("distributor", lang="en").get("/portal/imports").text
    assert "Receipts of inbound shipments" in english


def test_the_regulator_has_no_import_page(portal: PortalEnv) -> None:
    client = portal.sign_in("regulator", lang="en")
    assert client.get("/portal/imports/templates/shipments.csv").status_code == 403
