"""Partners.sol: members' GLNs, the primary one the regulator sets and the sites each member
registers and retires itself."""

from __future__ import annotations

import pytest

from medledger.ops.demo.consortium import DEMO_PREFIX, Consortium
from medledger.sdk.gs1 import make_gln
from tests.contracts.test_partners import ZERO_ADDRESS, call_as, event_names, expect_revert

GLN = make_gln(company_prefix=DEMO_PREFIX, location_reference=1)
WAREHOUSE = make_gln(company_prefix=DEMO_PREFIX, location_reference=2)


def test_regulator_sets_a_members_primary_gln(consortium: Consortium) -> None:
    manufacturer = consortium.manufacturer
    assert manufacturer.primary_gln(manufacturer.address) is None
    result = consortium.regulator.set_primary_gln(manufacturer.address, GLN)
    assert result.event("PrimaryGlnSet") == {
        "member": manufacturer.address,
        "gln": GLN,
        "by": consortium.regulator.address,
    }
    assert manufacturer.primary_gln(manufacturer.address) == GLN
    assert manufacturer.gln_owner(GLN) == (manufacturer.address, False)


@pytest.mark.parametrize("name", ["admin", "manufacturer", "hospital"])
def test_only_a_regulator_sets_a_primary_gln(consortium: Consortium, name: str) -> None:
    caller = consortium.by_name(name)
    expect_revert(
        lambda: caller.set_primary_gln(caller.address, GLN),
        "PartnersUnauthorized",
        {"caller": caller.address},
    )


def test_a_member_registers_and_retires_its_own_site(consortium: Consortium) -> None:
    manufacturer = consortium.manufacturer
    result = manufacturer.register_site(
        WAREHOUSE, name="苏州仓库", name_en="Suzhou warehouse", address="苏州工业园区星湖街 1 号"
    )
    assert event_names(result) == ["SiteRegistered"]
    assert result.event("SiteRegistered") == {
        "member": manufacturer.address,
        "gln": WAREHOUSE,
        "name": "苏州仓库",
        "nameEn": "Suzhou warehouse",
        "siteAddress": "苏州工业园区星湖街 1 号",
    }
    assert manufacturer.gln_owner(WAREHOUSE) == (manufacturer.address, True)
    retired = manufacturer.retire_site(WAREHOUSE)
    assert retired.event("SiteRetired") == {"member": manufacturer.address, "gln": WAREHOUSE}
    assert manufacturer.gln_owner(WAREHOUSE) == (manufacturer.address, False)
    manufacturer.register_site(WAREHOUSE, name="苏州仓库")  # registered again after retiring
    assert manufacturer.gln_owner(WAREHOUSE) == (manufacturer.address, True)


def test_a_gln_belongs_to_one_member(consortium: Consortium) -> None:
    consortium.manufacturer.register_site(WAREHOUSE, name="仓库")
    distributor = consortium.distributor
    expect_revert(
        lambda: call_as(distributor, "Partners", "registerSite", WAREHOUSE, "x", "", ""),
        "PartnersGlnTaken",
        {"gln": WAREHOUSE, "owner": consortium.manufacturer.address},
    )
    expect_revert(
        lambda: call_as(
            consortium.regulator, "Partners", "setPrimaryGln", distributor.address, WAREHOUSE
        ),
        "PartnersGlnTaken",
        {"gln": WAREHOUSE, "owner": consortium.manufacturer.address},
    )
    expect_revert(
        lambda: call_as(distributor, "Partners", "retireSite", WAREHOUSE),
        "PartnersNoSite",
        {"gln": WAREHOUSE},
    )


def test_a_member_may_register_its_primary_gln_as_a_site(consortium: Consortium) -> None:
    manufacturer = consortium.manufacturer
    consortium.regulator.set_primary_gln(manufacturer.address, GLN)
    manufacturer.register_site(GLN, name="总部", name_en="Head office")
    assert manufacturer.gln_owner(GLN) == (manufacturer.address, True)
    expect_revert(
        lambda: call_as(manufacturer, "Partners", "registerSite", GLN, "x", "", ""),
        "PartnersGlnTaken",
        {"gln": GLN, "owner": manufacturer.address},
    )


@pytest.mark.parametrize(
    "gln",
    ["", "690000000001", "69000000000123", "6900000000013", "69000000000a1"],
    ids=["empty", "12-digits", "14-digits", "bad-check-digit", "letter"],
)
def test_malformed_gln_is_refused(consortium: Consortium, gln: str) -> None:
    expect_revert(
        lambda: call_as(consortium.manufacturer, "Partners", "registerSite", gln, "x", "", ""),
        "PartnersInvalidGln",
        {"gln": gln},
    )


@pytest.mark.parametrize(
    ("name", "name_en", "address", "bad"),
    [
        ("", "", "", ""),
        ("x" * 201, "", "", "x" * 201),
        ("x", "y" * 201, "", "y" * 201),
        ("x", "", "z" * 201, "z" * 201),
    ],
    ids=["empty-name", "long-name", "long-english-name", "long-address"],
)
def test_site_texts_are_bounded(
    consortium: Consortium, name: str, name_en: str, address: str, bad: str
) -> None:
    expect_revert(
        lambda: call_as(
            consortium.manufacturer, "Partners", "registerSite", WAREHOUSE, name, name_en, address
        ),
        "PartnersInvalidSiteText",
        {"value": bad},
    )


def test_regulators_hold_no_sites(consortium: Consortium) -> None:
    regulator = consortium.regulator
    expect_revert(
        lambda: regulator.register_site(WAREHOUSE, name="x"),
        "PartnersUnauthorized",
        {"caller": regulator.address},
    )
    assert regulator.gln_owner(WAREHOUSE) == (ZERO_ADDRESS, False)
