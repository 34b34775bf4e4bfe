"""场所 / Sites in the portal (real app, eth-tester, real indexer): a distributor registers
a site with its GLN, sees it with its SGLN, gets a bad GLN refused in its language, and
retires the site."""

from __future__ import annotations

from medledger.ops.demo.consortium import DISTRIBUTOR_PREFIX
from medledger.sdk.gs1 import make_gln
from tests.api import partner_env
from tests.portal.conftest import PortalEnv
from tests.portal.test_partner_pages import post

partner = partner_env.partner
DEPOT = make_gln(company_prefix=DISTRIBUTOR_PREFIX, location_reference=5)


def test_a_distributor_registers_and_retires_a_site(portal: PortalEnv) -> None:
    c = portal.api.consortium
    client = portal.sign_in("distributor", lang="zh")
    page = client.get("/portal/sites")
    assert page.status_code == 200, page.text
    assert "场所（GLN）" in page.text and "尚无 GLN。" in page.text
    bad = post(
        client, "/portal/sites", {"gln": "6901234000058", "name": "仓库"}, page="/portal/sites"
    )
    assert bad.status_code == 422 and "登记场所" in bad.text, bad.text
    done = post(
        client,
        "/portal/sites",
        {"gln": DEPOT, "name": "嘉定仓库", "name_en": "Jiading warehouse", "address": "上海嘉定"},
        page="/portal/sites",
    )
    assert done.status_code == 200, done.text
    assert "场所已登记。" in done.text
    assert c.distributor.gln_owner(DEPOT) == (c.distributor.address, True)
    portal.api.sync()
    listed = client.get("/portal/sites")
    assert f'data-gln="{DEPOT}"' in listed.text
    assert f"urn:epc:id:sgln:{DISTRIBUTOR_PREFIX}.{DEPOT[7:12]}.0" in listed.text
    retired = post(client, "/portal/sites/retire", {"gln": DEPOT}, page="/portal/sites")
    assert retired.status_code == 200 and "场所已停用。" in retired.text
    assert c.distributor.gln_owner(DEPOT) == (c.distributor.address, False)
