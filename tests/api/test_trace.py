from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient

from medledger.sdk.gs1 import make_sscc
from tests.api import partner_env
from tests.api.conftest import ApiEnv
from tests.api.partner_env import PartnerEnv
from tests.api.regulator_mode import AUTH, regulator_client

partner = partner_env.partner


@pytest.fixture
def traced(api: ApiEnv) -> tuple[ApiEnv, TestClient, dict[str, bytes]]:
    """Three units; two packed in a case; case and the third unit shipped to and received
    by the distributor."""
    c = api.consortium
    units = c.manufacturer.commission(c.lot_key, ["SN1", "SN2", "SN3"]).value
    sscc = make_sscc(extension=1, company_prefix=c.prefix, serial_reference=42)
    case = c.manufacturer.create_container(sscc, company_prefix=c.prefix).value
    c.manufacturer.pack(case, units[:2])
    shipment = c.manufacturer.ship(c.distributor.address, [case, units[2]]).value
    c.distributor.receive(shipment, temp_min=50, temp_max=80)
    api.sync()
    ids = {"sn1": units[0], "sn2": units[1], "sn3": units[2], "case": case}
    return api, regulator_client(api), ids


def test_unit_history_lists_every_custody_step_with_chain_references(traced) -> None:
    api, client, ids = traced
    r = client.get(f"/v1/trace/items/0x{ids['sn1'].hex()}/history", headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [s["kind"] for s in body["steps"]] == ["commissioned", "packed", "shipped", "received"]
    assert body["steps"][-1]["holder"]["address"] == api.consortium.distributor.address
    assert body["steps"][-1]["holder"]["name"]
    assert dt.datetime.fromisoformat(body["steps"][0]["at"]).utcoffset() == dt.timedelta(hours=8)
    assert body["steps"][2]["via"] == "0x" + ids["case"].hex()
    assert body["steps"][0]["tx_hash"].startswith("0x") and body["next_cursor"] is None


def test_a_unit_is_found_by_its_gs1_code_too(traced) -> None:
    api, client, ids = traced
    r = client.get(f"/v1/trace/items/(01){api.consortium.gtin}(21)SN3/history", headers=AUTH)
    assert r.status_code == 200
    assert r.json()["item_id"] == "0x" + ids["sn3"].hex()


def test_history_pages_follow_the_cursor_to_the_end(traced) -> None:
    _, client, ids = traced
    url = f"/v1/trace/items/0x{ids['sn1'].hex()}/history"
    first = client.get(url, params={"limit": 3}, headers=AUTH).json()
    assert len(first["steps"]) == 3 and first["next_cursor"] == "3"
    rest = client.get(url, params={"limit": 3, "cursor": "3"}, headers=AUTH).json()
    assert [s["kind"] for s in rest["steps"]] == ["received"] and rest["next_cursor"] is None


def test_a_page_above_the_cap_is_a_422_naming_the_cap(traced) -> None:
    _, client, ids = traced
    r = client.get(
        f"/v1/trace/items/0x{ids['sn1'].hex()}/history", params={"limit": 201}, headers=AUTH
    )
    assert r.status_code == 422
    assert r.json()["code"] == "page_too_large" and r.json()["max_page_size"] == 200


def test_container_contents_and_containers_holding_a_unit(traced) -> None:
    _, client, ids = traced
    contents = client.get(f"/v1/trace/items/0x{ids['case'].hex()}/contents", headers=AUTH).json()
    assert contents["total"] == 2
    assert {i["code"] for i in contents["items"]} == {"SN1", "SN2"}
    assert all(i["depth"] == 1 for i in contents["items"])
    holding = client.get(f"/v1/trace/items/0x{ids['sn2'].hex()}/containers", headers=AUTH)
    assert holding.json()["containers"] == ["0x" + ids["case"].hex()]


def test_lot_forward_trace_counts_units_per_current_holder(traced) -> None:
    api, client, _ = traced
    c = api.consortium
    r = client.get(f"/v1/trace/lots/{c.gtin}/{c.lot}", headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    assert [(h["holder"]["address"], h["total"]) for h in body["holders"]] == [
        (c.distributor.address, 3)
    ]
    reached = {o["organisation"]["address"] for o in body["reached"]}
    assert {c.manufacturer.address, c.distributor.address} <= reached
    assert dt.date.fromisoformat(body["expiry"]) > dt.date(2020, 1, 1)


def test_a_lot_is_traced_by_any_code_form_too(traced) -> None:
    api, client, _ = traced
    c = api.consortium
    by_pair = client.get(f"/v1/trace/lots/{c.gtin}/{c.lot}", headers=AUTH).json()
    link = quote(f"https://id.example.com/01/{c.gtin}/10/{c.lot}", safe="")
    for form in (f"(01){c.gtin}(10){c.lot}", "0x" + c.lot_key.hex(), link):
        answer = client.get(f"/v1/trace/lots/{form}", headers=AUTH)
        assert answer.status_code == 200, (form, answer.text)
        assert answer.json() == by_pair
    unit = client.get(f"/v1/trace/lots/(01){c.gtin}(21)SN1", headers=AUTH)
    assert (unit.status_code, unit.json()["code"]) == (400, "missing_lot")
    unknown = client.get(f"/v1/trace/lots/(01){c.gtin}(10)NOPE", headers=AUTH)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_lot")


def test_recall_progress_shows_outstanding_units_per_holder(traced) -> None:
    api, client, _ = traced
    c = api.consortium
    recall = c.regulator.recall_lot(c.lot_key, level=1, reason_hash=keccak(text="r")).value
    api.sync()
    body = client.get(f"/v1/trace/recalls/{recall}", headers=AUTH).json()
    assert body["open"] is True and body["outstanding"] == 3
    assert body["holders"][0]["holder"]["address"] == c.distributor.address


def test_unknown_objects_are_404_and_malformed_codes_400(traced) -> None:
    api, client, _ = traced
    assert client.get(f"/v1/trace/items/0x{'ab' * 32}/history", headers=AUTH).status_code == 404
    assert client.get(f"/v1/trace/lots/{api.consortium.gtin}/NOPE", headers=AUTH).status_code == 404
    assert client.get("/v1/trace/recalls/99", headers=AUTH).status_code == 404
    bad = client.get("/v1/trace/items/(01)09506000134353(21)X/history", headers=AUTH)
    assert bad.status_code == 400 and bad.json()["code"]


def test_traces_need_the_regulator_token(traced) -> None:
    _, client, ids = traced
    url = f"/v1/trace/items/0x{ids['sn1'].hex()}/history"
    assert client.get(url).status_code == 401
    wrong = client.get(url, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_token"


def test_partner_mode_refuses_anonymous_traces(traced) -> None:
    api, _, ids = traced
    r = api.client.get(f"/v1/trace/items/0x{ids['sn1'].hex()}/history")
    assert r.status_code == 401


def test_a_partner_traces_only_what_it_holds_or_has_held(traced, partner: PartnerEnv) -> None:
    api, _, ids = traced
    c = api.consortium
    client = api.client
    distributor, hospital = partner.login(c.distributor), partner.login(c.hospital)
    history = f"/v1/trace/items/0x{ids['sn1'].hex()}/history"
    assert client.get(history, headers=distributor).status_code == 200
    assert client.get(history, headers=partner.login(c.manufacturer)).status_code == 200
    for url in (
        history,
        f"/v1/trace/items/0x{ids['case'].hex()}/contents",
        f"/v1/trace/items/0x{ids['sn2'].hex()}/containers",
        f"/v1/trace/lots/{c.gtin}/{c.lot}",
    ):
        r = client.get(url, headers=hospital)
        assert r.status_code == 404, url
    assert client.get(f"/v1/trace/lots/{c.gtin}/{c.lot}", headers=distributor).status_code == 200
    recall = c.regulator.recall_lot(c.lot_key, level=2, reason_hash=keccak(text="r")).value
    api.sync()
    assert client.get(f"/v1/trace/recalls/{recall}", headers=hospital).status_code == 404
    assert client.get(f"/v1/trace/recalls/{recall}", headers=distributor).status_code == 200
    # A regulator member signed in to the partner API sees everything.
    assert client.get(history, headers=partner.login(c.regulator)).status_code == 200


def test_a_lot_trace_shows_a_partner_only_its_own_stock_and_the_maker_everything(
    traced, partner: PartnerEnv
) -> None:
    api, _, ids = traced
    c = api.consortium
    # One unit goes on from the distributor to the hospital: the lot now has two holders.
    shipment = c.distributor.ship(c.hospital.address, [ids["sn3"]]).value
    c.hospital.receive(shipment, temp_min=50, temp_max=80)
    api.sync()
    url = f"/v1/trace/lots/{c.gtin}/{c.lot}"

    def seen(who) -> tuple[list[tuple[str, int]], set[str]]:
        body = api.client.get(url, headers=partner.login(who)).json()
        holders = [(h["holder"]["address"], h["total"]) for h in body["holders"]]
        return holders, {o["organisation"]["address"] for o in body["reached"]}

    everyone = {c.manufacturer.address, c.distributor.address, c.hospital.address}
    assert seen(c.hospital) == ([(c.hospital.address, 1)], {c.hospital.address})
    assert seen(c.distributor) == ([(c.distributor.address, 2)], {c.distributor.address})
    holders, reached = seen(c.manufacturer)
    assert sorted(holders) == sorted([(c.distributor.address, 2), (c.hospital.address, 1)])
    assert everyone <= reached
    assert seen(c.regulator)[1] >= everyone

    recall = c.regulator.recall_lot(c.lot_key, level=2, reason_hash=keccak(text="r")).value
    api.sync()
    progress = api.client.get(f"/v1/trace/recalls/{recall}", headers=partner.login(c.hospital))
    assert [h["holder"]["address"] for h in progress.json()["holders"]] == [c.hospital.address]
    assert c.distributor.address not in progress.text
    maker_view = api.client.get(
        f"/v1/trace/recalls/{recall}", headers=partner.login(c.manufacturer)
    ).json()
    assert {h["holder"]["address"] for h in maker_view["holders"]} == {
        c.distributor.address,
        c.hospital.address,
    }
