"""Members' GLNs and sites through the partner API: registered and retired on chain with
the member's custodial key, listed from the read model, bad GLNs refused with a code."""

from __future__ import annotations

import pytest

from medledger.ops.demo.consortium import DEMO_PREFIX, DISTRIBUTOR_PREFIX
from medledger.sdk.gs1 import make_gln
from tests.api import partner_env
from tests.api.conftest import ApiEnv
from tests.api.partner_env import PartnerEnv

partner = partner_env.partner
WAREHOUSE = make_gln(company_prefix=DEMO_PREFIX, location_reference=7)
DEPOT = make_gln(company_prefix=DISTRIBUTOR_PREFIX, location_reference=3)


def test_a_member_registers_lists_and_retires_its_sites(api: ApiEnv, partner: PartnerEnv) -> None:
    headers = partner.login(api.consortium.manufacturer)
    api.consortium.regulator.set_primary_gln(
        api.consortium.manufacturer.address,
        make_gln(company_prefix=DEMO_PREFIX, location_reference=1),
    )
    body = {"gln": WAREHOUSE, "name": "苏州仓库", "name_en": "Suzhou warehouse", "address": "苏州"}
    r = api.client.post("/v1/partner/sites", json=body, headers=headers)
    assert r.status_code == 201, r.text
    assert [e["name"] for e in r.json()["events"]] == ["SiteRegistered"]
    api.sync()
    listed = api.client.get("/v1/partner/sites", headers=headers).json()
    assert listed["primary_gln"] == "9506000000015"
    assert [(s["gln"], s["primary"], s["active"]) for s in listed["sites"]] == [
        ("9506000000015", True, False),
        (WAREHOUSE, False, True),
    ]
    site = listed["sites"][1]
    assert site["sgln"] == f"urn:epc:id:sgln:{DEMO_PREFIX}.{WAREHOUSE[7:12]}.0"
    assert (site["name"], site["name_en"], site["address"]) == (
        "苏州仓库",
        "Suzhou warehouse",
        "苏州",
    )

    other = partner.login(api.consortium.distributor)
    assert api.client.get("/v1/partner/sites", headers=other).json()["sites"] == []
    taken = api.client.post("/v1/partner/sites", json={**body, "name": "x"}, headers=other)
    assert taken.status_code == 409 and taken.json()["code"] == "PartnersGlnTaken"
    not_yours = api.client.post(f"/v1/partner/sites/{WAREHOUSE}/retire", headers=other)
    assert not_yours.status_code == 409 and not_yours.json()["code"] == "PartnersNoSite"
    peek = api.client.get(
        "/v1/partner/sites", params={"of": api.consortium.manufacturer.address}, headers=other
    )
    assert peek.status_code == 404

    r = api.client.post(f"/v1/partner/sites/{WAREHOUSE}/retire", headers=headers)
    assert r.status_code == 200, r.text
    api.sync()
    after = api.client.get("/v1/partner/sites", headers=headers).json()["sites"]
    assert [s["gln"] for s in after] == ["9506000000015"]
    with_retired = api.client.get(
        "/v1/partner/sites", params={"retired": "true"}, headers=headers
    ).json()["sites"]
    assert [(s["gln"], s["active"]) for s in with_retired][1] == (WAREHOUSE, False)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"gln": "9506000000016", "name": "x"}, "gln"),  # bad check digit
        ({"gln": "950600000001", "name": "x"}, "gln"),
        ({"gln": DEPOT, "name": ""}, "name"),
        ({"gln": DEPOT, "name": "仓" * 67}, "name"),  # 201 bytes of UTF-8
        ({"gln": DEPOT, "name": "x", "extra": 1}, "extra"),
    ],
)
def test_a_bad_site_is_a_422_naming_the_field(
    api: ApiEnv, partner: PartnerEnv, body: dict[str, object], field: str
) -> None:
    headers = partner.login(api.consortium.distributor)
    r = api.client.post("/v1/partner/sites", json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert field in r.text


def test_the_cli_adds_lists_and_retires_a_site_and_names_a_bad_gln(partner: PartnerEnv) -> None:
    from typer.testing import CliRunner

    from medledger.cli import app

    runner = CliRunner()
    services = partner.api.services
    member = partner.api.consortium.distributor.address
    env = {"LANG": "en_GB.UTF-8"}
    added = runner.invoke(
        app,
        ["sites", "add", DEPOT, "--member", member, "--name", "嘉定仓库"],
        obj=services,
        env=env,
    )
    assert added.exit_code == 0, added.output
    partner.api.sync()
    listed = runner.invoke(app, ["sites", "list", "--member", member], obj=services, env=env)
    assert listed.exit_code == 0 and DEPOT in listed.output and "active" in listed.output
    bad = runner.invoke(
        app,
        ["sites", "add", "6901234000058", "--member", member, "--name", "x"],
        obj=services,
        env=env,
    )
    assert bad.exit_code == 2 and "6901234000058" in bad.output and "check digit" in bad.output
    retired = runner.invoke(
        app, ["sites", "retire", DEPOT, "--member", member], obj=services, env=env
    )
    assert retired.exit_code == 0, retired.output
    partner.api.sync()
    again = runner.invoke(app, ["sites", "list", "--member", member], obj=services, env=env)
    assert "retired" in again.output
