"""The lot-tracked custody forms through the real app (TestClient) over eth-tester and a
real indexer: commission a quantity, pack and open cases, ship units, cases and a loose
quantity together, receive with part of a lot rejected, and a hospital's use by quantity,
with the ledger's refusals in plain words in both languages."""

from __future__ import annotations

import re

import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient

from medledger.sdk.ledger import case_id
from tests.lot_products import Gauze, deliver, register_gauze
from tests.portal.conftest import PortalEnv
from tests.portal.test_partner_pages import post


@pytest.fixture
def gauze(portal: PortalEnv) -> Gauze:
    found = register_gauze(portal.api.consortium, portal.api.chain.now())
    portal.api.sync()
    return found


def lot_key_of(c_lot_key: bytes) -> str:
    return "0x" + c_lot_key.hex()


def balance(portal: PortalEnv, gauze: Gauze, name: str) -> tuple[int, int, int]:
    c = portal.api.consortium
    return c.admin.lot_balance(gauze.lot_index, c.by_name(name).address)


# The lot form of each role: where it posts, and the page it is on.
LOT_FORMS = {
    "hospital": ("/portal/hospital/lots", "/portal/hospital"),
    "distributor": ("/portal/stock/lots", "/portal/distributor"),
}


def in_turn(
    portal: PortalEnv,
    gauze: Gauze,
    client: TestClient,
    who: str,
    line: str,
    steps: list[tuple[str, tuple[int, int, int]]],
    notice: str,
) -> None:
    """Each action of `steps` on the lot line through `who`'s form, then its balance."""
    url, page = LOT_FORMS[who]
    for action, expected in steps:
        done = post(client, url, {"lots": line, "action": action, "lot_record": "R-1"}, page=page)
        assert done.status_code == 200, (action, done.text[:300])
        assert notice in done.text
        assert balance(portal, gauze, who) == expected, action


def release_with_approval(portal: PortalEnv, client: TestClient, who: str, line: str) -> None:
    """Release `line` from quarantine the maker-checker way: `client` proposes it, a second
    QA user of `who` approves it on the "Awaiting approval" page."""
    url, page = LOT_FORMS[who]
    proposed = post(client, url, {"lots": line, "action": "release"}, page=page)
    assert proposed.status_code == 200 and 'data-form="lots"' in proposed.text
    checker = portal.sign_in(portal.add_staff(f"{who}-checker", of=who, role="qa"))
    pending = checker.get("/portal/approvals").text
    (approval_id,) = re.findall(r'data-approval="([0-9a-f]+)" data-kind="release_lots"', pending)
    done = post(checker, f"/portal/approvals/{approval_id}/approve", {}, page="/portal/approvals")
    assert done.status_code == 200 and 'data-state="approved"' in done.text, done.text[:400]


def commission_quantity(maker: TestClient, lot_key: bytes, quantity: str) -> str:
    done = post(
        maker,
        "/portal/manufacturer/commission-lot",
        {"quantity_lot": lot_key_of(lot_key), "quantity": quantity},
        page="/portal/manufacturer/commission",
    )
    return str(done.status_code) + done.text


def test_a_manufacturer_commissions_a_quantity_and_a_serialised_product_is_refused_in_words(
    portal: PortalEnv, gauze: Gauze
) -> None:
    c = portal.api.consortium
    maker = portal.sign_in("manufacturer", lang="en")
    page = maker.get("/portal/manufacturer/commission").text
    assert 'data-form="commission-lot"' in page and f"{gauze.gtin} · {gauze.lot}" in page
    done = commission_quantity(maker, gauze.lot_key, "120")
    assert done.startswith("200") and "120 units of the lot commissioned." in done
    assert balance(portal, gauze, "manufacturer") == (120, 0, 0)
    zh = portal.sign_in("manufacturer", lang="zh")
    refused = commission_quantity(zh, c.lot_key, "5")
    assert refused.startswith("400"), refused[:200]
    assert "该产品按序列号管理" in refused
    zero = commission_quantity(maker, gauze.lot_key, "0")
    assert zero.startswith("422") and balance(portal, gauze, "manufacturer") == (120, 0, 0)


def test_cases_are_packed_with_sequential_serials_and_opened_by_their_code(
    portal: PortalEnv, gauze: Gauze
) -> None:
    c = portal.api.consortium
    c.manufacturer.commission_lot(gauze.lot_key, 35)
    portal.api.sync()
    maker = portal.sign_in("manufacturer", lang="en")
    page = maker.get("/portal/packing").text
    source = f"{gauze.case_gtin}/{gauze.lot}"
    assert f'value="{source}"' in page and "35 loose" in page
    packed = post(
        maker,
        "/portal/packing/cases",
        {"case_source": source, "case_prefix": "CS", "case_first": "7", "case_count": "3"},
        page="/portal/packing",
    )
    assert packed.status_code == 200, packed.text
    assert f"(01){gauze.case_gtin}(10){gauze.lot}(21)CS0007" in packed.text
    assert balance(portal, gauze, "manufacturer") == (5, 0, 0)
    assert c.admin.item(case_id(gauze.case_gtin, "CS0009")).holder == c.manufacturer.address
    short = post(
        maker,
        "/portal/packing/cases",
        {"case_source": source, "case_serials": "X1"},
        page="/portal/packing",
    )
    assert short.status_code == 400
    assert "The holder does not have that many units of this lot." in short.text
    portal.api.sync()
    opened = post(
        maker,
        "/portal/packing/unpack",
        {"container": f"(01){gauze.case_gtin}(10){gauze.lot}(21)CS0007"},
        page="/portal/packing",
    )
    assert opened.status_code == 200, opened.text
    assert "its units are loose stock again" in opened.text
    assert balance(portal, gauze, "manufacturer") == (15, 0, 0)


def test_a_mixed_shipment_is_received_with_part_of_a_lot_rejected(
    portal: PortalEnv, gauze: Gauze
) -> None:
    c = portal.api.consortium
    units = c.manufacturer.commission(c.lot_key, ["PX1", "PX2"]).value
    c.manufacturer.commission_lot(gauze.lot_key, 50)
    c.manufacturer.pack_cases(gauze.case_gtin, gauze.lot, ["P1"])
    portal.api.sync()
    maker = portal.sign_in("manufacturer", lang="en")
    outbound = maker.get("/portal/shipments/outbound").text
    assert 'data-available="40"' in outbound
    contents = "\n".join(
        [f"(01){c.gtin}(21)PX1", f"(01){c.gtin}(21)PX2", f"(01){gauze.case_gtin}(21)P1"]
    )
    lot_code = f"(01){gauze.gtin}(10){gauze.lot}"
    form = {"receiver": c.distributor.address, "contents": contents}
    over = post(maker, "/portal/shipments/outbound", {**form, "lots": f"{lot_code} 41"})
    assert over.status_code == 400, over.text
    assert f"Only 40 units of lot {gauze.gtin} {gauze.lot} are available; 41" in over.text
    assert c.manufacturer.lot_balance(gauze.lot_index, c.manufacturer.address) == (40, 0, 0)
    bad = post(maker, "/portal/shipments/outbound", {**form, "lots": f"{lot_code} many"})
    assert bad.status_code == 400 and "End each line with a quantity" in bad.text
    sent = post(
        maker, "/portal/shipments/outbound", {**form, "lots": f"{gauze.gtin} {gauze.lot} 25"}
    )
    assert sent.status_code == 303, sent.text
    shipment_id = int(sent.headers["location"].split("sent=")[1])
    portal.api.sync()
    distributor = portal.sign_in("distributor", lang="zh")
    form_url = f"/portal/shipments/inbound/{shipment_id}"
    acceptance = distributor.get(form_url).text
    field = f"reject_lot:0x{gauze.lot_key.hex()}"
    assert f'name="{field}"' in acceptance and 'data-shipped="25"' in acceptance
    base = {
        "reject": "0x" + units[1].hex(),
        f"count:{c.gtin}:{c.lot}": "1",
        f"count:{gauze.gtin}:{gauze.lot}": "10",
        "temp_min": "4",
        "temp_max": "6",
        "excursion_minutes": "0",
    }
    too_many = post(distributor, form_url, {**base, field: "26"})
    assert too_many.status_code == 422 and "26 is not between 0 and 25" in too_many.text
    done = post(distributor, form_url, {**base, field: "6"})
    assert done.status_code == 200, done.text
    assert "散装数量：接收 19，拒收 6。" in done.text
    assert balance(portal, gauze, "distributor") == (19, 0, 0)
    assert balance(portal, gauze, "manufacturer") == (21, 0, 0)
    assert c.admin.item(units[1]).holder == c.manufacturer.address
    assert c.admin.item(case_id(gauze.case_gtin, "P1")).holder == c.distributor.address


def test_a_hospital_uses_quarantines_and_destroys_by_quantity_but_not_a_recalled_lot(
    portal: PortalEnv, gauze: Gauze
) -> None:
    c = portal.api.consortium
    deliver(c, gauze, c.hospital, 30)
    portal.api.sync()
    hospital = portal.sign_in("hospital", lang="en")
    line = f"(01){gauze.gtin}(10){gauze.lot} 4"
    steps = [("dispense", (26, 0, 0)), ("quarantine", (22, 4, 0))]
    in_turn(portal, gauze, hospital, "hospital", line, steps, "4 loose units recorded")
    release_with_approval(portal, hospital, "hospital", line)
    assert balance(portal, gauze, "hospital") == (26, 0, 0)
    in_turn(portal, gauze, hospital, "hospital", line, [("destroy", (22, 0, 0))], "4 loose")
    c.regulator.recall_lot(gauze.lot_key, level=1, reason_hash=keccak(text="recall"))
    for lang, words in [("en", "This lot is recalled"), ("zh", "该批次已被召回")]:
        refused = post(
            portal.sign_in("hospital", lang=lang),
            "/portal/hospital/lots",
            {"lots": line, "action": "dispense", "lot_record": "W-2"},
            page="/portal/hospital",
        )
        assert refused.status_code == 400 and words in refused.text
    assert balance(portal, gauze, "hospital") == (22, 0, 0)
    not_a_lot = post(
        hospital,
        "/portal/hospital/lots",
        {"lots": f"(01){c.gtin}(21)SN1 1", "action": "dispense"},
        page="/portal/hospital",
    )
    assert not_a_lot.status_code == 400 and "The code names no lot" in not_a_lot.text


def test_a_distributor_quarantines_releases_and_destroys_its_loose_units_but_cannot_use_them(
    portal: PortalEnv, gauze: Gauze
) -> None:
    c = portal.api.consortium
    deliver(c, gauze, c.distributor, 12)
    portal.api.sync()
    distributor = portal.sign_in("distributor", lang="zh")
    page = distributor.get("/portal/distributor").text
    assert 'action="/portal/stock/lots"' in page and 'value="dispense"' not in page
    line = f"{gauze.gtin} {gauze.lot} 3"
    in_turn(portal, gauze, distributor, "distributor", line, [("quarantine", (9, 3, 0))],
            "已记录 3 个散装单位")  # fmt: skip
    release_with_approval(portal, distributor, "distributor", line)
    assert balance(portal, gauze, "distributor") == (12, 0, 0)
    in_turn(portal, gauze, distributor, "distributor", line, [("destroy", (9, 0, 0))],
            "已记录 3 个散装单位")  # fmt: skip
    use = post(
        distributor,
        "/portal/stock/lots",
        {"lots": line, "action": "dispense"},
        page="/portal/distributor",
    )
    assert use.status_code == 422 and balance(portal, gauze, "distributor") == (9, 0, 0)
