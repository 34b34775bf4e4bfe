"""The trace explorer through the real app: any code form finds the unit, its custody
timeline and organisation graph link each step to its chain transaction, and a partner
sees only what it holds or has held."""

from __future__ import annotations

import re

import pytest

from medledger.sdk.gs1 import Udi, make_sscc
from tests.portal.conftest import PortalEnv


@pytest.fixture
def unit(portal: PortalEnv) -> dict[str, object]:
    """SN-T1 and SN-T2 packed in a case, shipped to the distributor, unpacked there, and
    SN-T1 on to the hospital; SN-T3 in a second case (`sscc`) kept by the manufacturer."""
    c = portal.api.consortium
    units = c.manufacturer.commission(c.lot_key, ["SN-T1", "SN-T2", "SN-T3"]).value
    case = c.manufacturer.create_container(
        make_sscc(extension=3, company_prefix=c.prefix, serial_reference=77),
        company_prefix=c.prefix,
    ).value
    c.manufacturer.pack(case, units[:2])
    sscc = make_sscc(extension=3, company_prefix=c.prefix, serial_reference=78)
    kept = c.manufacturer.create_container(sscc, company_prefix=c.prefix).value
    c.manufacturer.pack(kept, units[2:])
    c.distributor.receive(
        c.manufacturer.ship(c.distributor.address, [case]).value, temp_min=40, temp_max=60
    )
    c.distributor.unpack(case)
    c.hospital.receive(
        c.distributor.ship(c.hospital.address, units[:1]).value, temp_min=40, temp_max=60
    )
    portal.api.sync()
    udi = Udi(gtin=c.gtin, lot=c.lot, serial="SN-T1")
    return {"udi": udi, "id": units[0], "sscc": sscc}


def test_every_code_form_finds_the_unit_with_timeline_and_graph(
    portal: PortalEnv, unit: dict[str, object]
) -> None:
    udi = unit["udi"]
    assert isinstance(udi, Udi)
    client = portal.sign_in("regulator", lang="en")
    for code in (
        udi.element_string(),
        "]d2" + udi.gs1_payload(),
        udi.digital_link_uri(base="https://id.example.com"),
        "0x" + unit["id"].hex(),  # type: ignore[attr-defined]
    ):
        page = client.get("/portal/trace", params={"code": code})
        assert page.status_code == 200, (code, page.text[:500])
        kinds = re.findall(r'<li data-kind="([a-z_]+)">', page.text)
        assert kinds == [
            "commissioned",
            "packed",
            "shipped",
            "received",
            "unpacked",
            "shipped",
            "received",
        ]
    graph = re.search(r'<svg class="org-graph".*?</svg>', page.text, re.S)
    assert graph is not None
    hops = re.findall(
        r'<a class="hop hop-(\w+)" href="(/portal/chain/tx/0x[0-9a-f]{64})', graph.group(0)
    )
    assert [h[0] for h in hops] == ["received", "received"]
    orgs = re.findall(r'<g class="org" data-address="(0x[0-9a-fA-F]{40})"', graph.group(0))
    c = portal.api.consortium
    assert orgs == [c.manufacturer.address, c.distributor.address, c.hospital.address]

    tx = client.get(hops[1][1])
    assert tx.status_code == 200
    assert "Items.ShipmentSent" in tx.text
    block = re.search(r'data-block="(\d+)"', tx.text)
    assert block and int(block.group(1)) > 0


def test_a_container_shows_its_contents_and_a_lot_its_holders(
    portal: PortalEnv, unit: dict[str, object]
) -> None:
    client = portal.sign_in("regulator", lang="en")
    case = client.get("/portal/trace", params={"code": f"(00){unit['sscc']}"})
    assert case.status_code == 200 and "SN-T3" in case.text
    c = portal.api.consortium
    lot = client.get("/portal/trace", params={"code": f"(01){c.gtin}(10){c.lot}"})
    assert lot.status_code == 200 and 'id="lot-holders"' in lot.text
    assert "Jiangsu Medical Distribution" in lot.text and "Ruijin Hospital" in lot.text


def test_a_partner_sees_only_what_it_has_held(portal: PortalEnv, unit: dict[str, object]) -> None:
    udi = unit["udi"]
    assert isinstance(udi, Udi)
    holder = portal.sign_in("hospital", lang="en")
    mine = holder.get("/portal/trace", params={"code": udi.element_string()})
    assert mine.status_code == 200 and 'data-kind="dispensed"' not in mine.text
    link = re.search(r'href="(/portal/chain/tx/0x[0-9a-f]{64}\?item=0x[0-9a-f]{64})"', mine.text)
    assert link and holder.get(link.group(1)).status_code == 200

    stranger = portal.sign_in("logistics", lang="en")
    hidden = stranger.get("/portal/trace", params={"code": udi.element_string()})
    assert hidden.status_code == 400 and 'data-code="unknown_item"' in hidden.text
    assert "not yours to see" in hidden.text
    assert stranger.get(link.group(1)).status_code == 404
    bare = link.group(1).split("?")[0]
    assert stranger.get(bare).status_code == 404  # no item named: nothing disclosed


def test_a_hospitals_lot_trace_shows_only_its_own_stock(
    portal: PortalEnv, unit: dict[str, object]
) -> None:
    c = portal.api.consortium
    lot_code = f"(01){c.gtin}(10){c.lot}"
    hospital = portal.sign_in("hospital", lang="en")
    lot = hospital.get("/portal/trace", params={"code": lot_code})
    assert lot.status_code == 200 and 'id="lot-holders"' in lot.text
    assert "Ruijin Hospital" in lot.text
    assert "Jiangsu Medical Distribution" not in lot.text  # the distributor's stock is theirs
    maker = portal.sign_in("manufacturer", lang="en")
    everything = maker.get("/portal/trace", params={"code": lot_code})
    assert (
        "Jiangsu Medical Distribution" in everything.text and "Ruijin Hospital" in everything.text
    )


def test_a_malformed_code_is_explained_in_the_chosen_language(
    portal: PortalEnv, unit: dict[str, object]
) -> None:
    c = portal.api.consortium
    bad = f"(01){c.gtin[:-1]}0(21)SN-T1"
    if bad == f"(01){c.gtin}(21)SN-T1":
        bad = f"(01){c.gtin[:-1]}1(21)SN-T1"
    for lang, words in (("en", "check digit is wrong"), ("zh", "校验位")):
        page = portal.sign_in("distributor", lang=lang).get("/portal/trace", params={"code": bad})
        assert page.status_code == 400 and 'data-code="bad_check_digit"' in page.text
        assert words in page.text
        assert f'value="{bad}"' in page.text  # the field keeps what was typed
