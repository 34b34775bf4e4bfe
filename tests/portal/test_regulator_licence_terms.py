"""The regulator's licence form takes the licence terms in clear (authority, scope codes,
province, warehouse address) and the members page shows them; bad scope codes are refused
with the form kept."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from medledger.sdk.model import LicenceKind
from tests.api import partner_env
from tests.portal.conftest import PortalEnv
from tests.portal.regulator_env import regulator_app_client, sign_in
from tests.portal.test_regulator_pages import _licence, _post

partner = partner_env.partner


@pytest.fixture
def reg(portal: PortalEnv) -> TestClient:
    return sign_in(regulator_app_client(portal), "regulator")


def test_the_regulator_attests_a_licence_with_its_terms(portal: PortalEnv, reg: TestClient) -> None:
    hospital = portal.api.consortium.hospital
    done = _licence(
        reg,
        hospital.address,
        number="PDY0000123",
        device_classes=["1", "2", "3"],
        authority="上海市卫生健康委员会",
        scope="07-03，07 14",
        province="上海市",
        warehouse_address="徐汇区宛平南路 600 号",
    )
    assert done.status_code == 303, done.text
    licence = hospital.licence(hospital.address, LicenceKind.PRACTICE)
    assert licence.scope == ("07", "07-03", "14")
    assert (licence.authority, licence.province) == ("上海市卫生健康委员会", "上海市")
    portal.api.sync()
    page = reg.get("/portal/regulator/members").text
    assert "PDY0000123" in page and "07, 07-03, 14" in page
    bad = _licence(reg, hospital.address, number="PDY0000124", device_classes=["1"], scope="07;x")
    assert bad.status_code in (400, 422), bad.text
    assert "PDY0000124" in bad.text  # the form keeps what was typed


def test_the_regulator_admits_a_member_and_assigns_its_prefix(
    portal: PortalEnv, reg: TestClient
) -> None:
    c = portal.api.consortium
    newcomer = portal.api.chain.accounts[8].address
    page = reg.get("/portal/regulator/members").text
    assert "接纳成员单位" in page or "Admit a member" in page
    admitted = _post(
        reg,
        "/portal/regulator/members",
        "/portal/regulator/members/admit",
        member=newcomer,
        role="distributor",
        name="苏州新医械流通有限公司",
    )
    assert admitted.status_code == 303, admitted.text
    assert c.regulator.member(newcomer).role.name == "DISTRIBUTOR"
    assigned = _post(
        reg,
        "/portal/regulator/members",
        "/portal/regulator/prefixes",
        member=newcomer,
        prefix="6977001",
    )
    assert assigned.status_code == 303, assigned.text
    assert c.regulator.prefix_owner("6977001") == newcomer
    again = _post(
        reg,
        "/portal/regulator/members",
        "/portal/regulator/prefixes",
        member=c.distributor.address,
        prefix="6977001",
    )
    assert again.status_code == 400, again.text
