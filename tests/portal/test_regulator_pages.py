"""The regulator's portal pages through the real app in regulator mode: overview,
members and licences, the recall centre with acknowledgements, alerts; who may open them;
failures shown in the chosen language with the form keeping what was typed."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient

from medledger.domain import recalls
from medledger.domain.regulator import REGULATOR_LEDGER
from medledger.indexer.queries import record_scan
from medledger.sdk.model import LicenceKind, MemberStatus
from tests.api.partner_env import PartnerEnv
from tests.portal.conftest import PortalEnv
from tests.portal.recall_approvals_env import approve, regulator_checker
from tests.portal.regulator_env import regulator_app_client, sign_in


@pytest.fixture
def reg(portal: PortalEnv) -> TestClient:
    return sign_in(regulator_app_client(portal), "regulator")


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def _post(client: TestClient, page_url: str, url: str, **fields: object):  # noqa: ANN202
    page = client.get(page_url)
    return client.post(url, data={"csrf_token": _csrf(page.text), **fields})


def _licence(client: TestClient, member: str, **fields: object):  # noqa: ANN202
    form = {"member": member, "kind": "practice", "valid_until": "2031-12-31", **fields}
    return _post(client, "/portal/regulator/members", "/portal/regulator/licences", **form)


def _stock(portal: PortalEnv) -> list[bytes]:
    """Three units at the distributor, one of them on at the hospital."""
    c = portal.api.consortium
    units = c.manufacturer.commission(c.lot_key, ["R1", "R2", "R3"]).value
    c.distributor.receive(
        c.manufacturer.ship(c.distributor.address, units).value, temp_min=40, temp_max=60
    )
    c.hospital.receive(
        c.distributor.ship(c.hospital.address, units[2:]).value, temp_min=40, temp_max=60
    )
    portal.api.sync()
    return list(units)


def test_a_signed_out_visitor_is_sent_to_sign_in(portal: PortalEnv) -> None:
    client = regulator_app_client(portal)
    for path in ("/portal/regulator", "/portal/regulator/recalls/1", "/portal/trace"):
        r = client.get(path)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/portal/sign-in?next=")


def test_a_partner_cannot_open_regulator_pages(portal: PortalEnv) -> None:
    client = sign_in(regulator_app_client(portal), "distributor")
    for path in ("/portal/regulator", "/portal/regulator/members", "/portal/regulator/alerts"):
        r = client.get(path)
        assert r.status_code == 403 and 'data-code="forbidden_role"' in r.text
    page = client.get("/portal/trace")
    r = client.post(
        "/portal/regulator/recalls",
        data={"csrf_token": _csrf(page.text), "gtin": portal.api.consortium.gtin, "lot": "X"},
    )
    assert r.status_code == 403
    assert "/portal/regulator" not in client.get("/portal/trace").text  # not in the menu


def test_regulator_pages_exist_only_in_regulator_mode(portal: PortalEnv) -> None:
    partner_mode = portal.sign_in("regulator", lang="en")
    r = partner_mode.get("/portal/regulator")
    assert r.status_code == 400 and 'data-code="regulator_mode_only"' in r.text


def test_the_overview_shows_figures_and_charts_in_either_language(
    portal: PortalEnv, reg: TestClient
) -> None:
    _stock(portal)
    page = reg.get("/portal/regulator")
    assert page.status_code == 200
    assert page.text.count('<svg class="chart"') == 4
    members = re.search(r'<desc id="chart-members-d">([^<]*)</desc>', page.text)
    assert members and "hospital: 2" in members.group(1) and "manufacturer: 1" in members.group(1)
    shipments = re.search(r'<desc id="chart-shipments-d">([^<]*)</desc>', page.text)
    assert shipments and shipments.group(1).endswith(": 2")  # both shipments were today
    chinese = reg.get("/portal/regulator?lang=zh")
    assert '<html lang="zh-CN"' in chinese.text and "网络概览" in chinese.text


def test_the_overview_counts_verification_scans_and_those_by_members(
    portal: PortalEnv, reg: TestClient
) -> None:
    (unit, *_) = _stock(portal)
    now = int(time.time())
    with portal.api.services.engine.begin() as conn:
        record_scan(conn, unit, scanned_at=now, location="CN-31", scanner=None)
        record_scan(conn, unit, scanned_at=now, location="US", scanner=None)
        hospital = portal.api.consortium.hospital.address
        record_scan(conn, unit, scanned_at=now, location="CN-31", scanner=hospital)
        record_scan(conn, unit, scanned_at=now - 30 * 86_400, location="CN", scanner=None)
    page = reg.get("/portal/regulator?lang=en").text
    assert '<h2 data-figure="scans">3</h2>' in page and "1 by members" in page
    assert "其中成员扫描 1 次" in reg.get("/portal/regulator?lang=zh").text


def test_the_regulator_issues_a_recall_and_watches_its_progress(
    portal: PortalEnv, reg: TestClient
) -> None:
    _stock(portal)
    c = portal.api.consortium
    r = _post(
        reg,
        "/portal/regulator/recalls",
        "/portal/regulator/recalls",
        gtin=c.gtin,
        lot=c.lot,
        level="1",
        reason="sterility breach",
        action="Quarantine the units and return them",
        contact="QA hotline 400-000-0000",
    )
    assert r.status_code == 303, r.text
    # Proposed: nothing on chain until a second regulator user approves it.
    assert c.manufacturer.lot(c.lot_key).active_recall == 0  # type: ignore[union-attr]
    own = reg.post(
        f"/portal/approvals/{r.headers['location'].rsplit('=', 1)[1]}/approve",
        data={"csrf_token": _csrf(reg.get("/portal/approvals").text)},
    )
    assert own.status_code == 403 and 'data-code="approval_own_proposal"' in own.text
    checker = regulator_checker(portal)
    listed = checker.get("/portal/approvals").text
    assert 'data-field="reason">sterility breach<' in listed and 'data-field="level">1<' in listed
    approve(checker, r.headers["location"])
    recall_id = c.manufacturer.lot(c.lot_key).active_recall  # type: ignore[union-attr]
    url = f"/portal/regulator/recalls/{recall_id}"
    assert c.manufacturer.recall(recall_id)["open"] is True
    # The reason is sealed: the chain carries a salted commitment, not keccak(reason).
    assert c.manufacturer.recall(recall_id)["lot_key"] == c.lot_key

    waiting = reg.get(url)  # the indexer has not seen the block yet
    assert 'data-state="pending"' in waiting.text and 'hx-trigger="every 3s"' in waiting.text
    portal.api.sync()
    live = reg.get(f"{url}/progress")
    assert live.status_code == 200 and "<html" not in live.text  # a fragment for htmx
    assert 'data-figure="outstanding">3<' in live.text
    assert f'data-holder="{c.distributor.address}"' in live.text
    assert 'data-figure="acknowledged">0 / 2<' in live.text
    opened = re.search(r'href="(/portal/chain/tx/0x[0-9a-f]{64})"', live.text)
    assert opened and "Devices.RecallOpened" in reg.get(opened.group(1)).text

    ack = portal.api.client.post(
        f"/v1/partner/recalls/{recall_id}/acknowledgement",
        json={"note": "stock quarantined"},
        headers=portal_login(portal, "hospital"),
    )
    assert ack.status_code == 200, ack.text
    portal.api.sync()  # the signed acknowledgement reaches the recall centre via the indexer
    assert 'data-figure="acknowledged">1 / 2<' in reg.get(f"{url}/progress").text
    page = reg.get(f"{url}?lang=en").text
    assert 'data-field="reason">sterility breach<' in page
    assert "Quarantine the units and return them" in page

    # Units are still in the field: closing needs a reason and a second confirmation.
    refused = _post(reg, url, f"{url}/close", outcome="")
    assert c.manufacturer.recall(recall_id)["open"], refused.text
    assert "give the reason for closing and confirm" in refused.text
    unconfirmed = _post(reg, url, f"{url}/close", outcome="stock written off")
    assert c.manufacturer.recall(recall_id)["open"] is True, unconfirmed.text
    closed = _post(reg, url, f"{url}/close", outcome="stock written off", confirm_outstanding="yes")
    assert closed.status_code == 303
    assert c.manufacturer.recall(recall_id)["open"] is True  # proposed only
    assert 'data-field="outstanding">3<' in checker.get("/portal/approvals").text
    approve(checker, closed.headers["location"])
    assert c.manufacturer.recall(recall_id)["open"] is False
    portal.api.sync()
    final = reg.get(url)
    assert 'data-state="closed"' in final.text and "hx-trigger" not in final.text
    listed = reg.get("/portal/regulator/recalls")
    assert f'data-recall="{recall_id}"' in listed.text


def test_an_unknown_recall_is_a_404_not_a_wait_for_the_indexer(
    portal: PortalEnv, reg: TestClient
) -> None:
    c = portal.api.consortium
    issued = c.regulator.recall_lot(c.lot_key, level=2, reason_hash=keccak(text="x")).value
    assert 'data-state="pending"' in reg.get(f"/portal/regulator/recalls/{issued}").text
    portal.api.sync()
    for lang, words in (("en", "No such recall."), ("zh", "无此召回。")):
        reg.cookies.set("lang", lang)
        for path in ("", "/progress"):
            page = reg.get(f"/portal/regulator/recalls/{issued + 1}{path}")
            assert page.status_code == 404 and 'data-code="unknown_recall"' in page.text
            assert words in page.text and "hx-trigger" not in page.text


def test_a_recall_the_regulators_follower_has_not_reached_is_pending_not_unknown(
    portal: PortalEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regulator mode reads from its follower and writes to the sequencer: right after an
    # order the follower may not hold the recall yet, but the sequencer does.
    c = portal.api.consortium
    client = regulator_app_client(portal, submit_rpc_url="http://sequencer.invalid:8545")
    client.app.state.services.components.put(REGULATOR_LEDGER, c.regulator)  # type: ignore[attr-defined]
    reg = sign_in(client, "regulator")
    issued = c.regulator.recall_lot(c.lot_key, level=2, reason_hash=keccak(text="x")).value
    follower_behind = SimpleNamespace(recall=lambda _: {"lot_index": 0})
    monkeypatch.setattr(recalls, "reader", lambda _: follower_behind)
    waiting = reg.get(f"/portal/regulator/recalls/{issued}")
    assert waiting.status_code == 200 and 'data-state="pending"' in waiting.text
    assert reg.get(f"/portal/regulator/recalls/{issued + 1}").status_code == 404


def portal_login(portal: PortalEnv, name: str) -> dict[str, str]:
    """API sign-in headers for a demo member (challenge, signature, token)."""
    return PartnerEnv(portal.api).login(portal.api.consortium.by_name(name))


def test_a_refused_recall_is_explained_and_the_form_keeps_its_values(
    portal: PortalEnv, reg: TestClient
) -> None:
    c = portal.api.consortium
    for lang, words in (("en", "Unknown lot"), ("zh", "未知批次")):
        reg.cookies.set("lang", lang)
        r = _post(
            reg,
            "/portal/regulator/recalls",
            "/portal/regulator/recalls",
            gtin=c.gtin,
            lot="NOSUCHLOT",
            level="2",
            reason="typo check",
        )
        assert r.status_code == 400 and 'data-code="DevicesUnknownLot"' in r.text
        assert words in r.text
        assert 'value="NOSUCHLOT"' in r.text and "typo check" in r.text
        assert 'value="2" checked' in r.text
    reg.cookies.set("lang", "en")
    bad = _post(
        reg,
        "/portal/regulator/recalls",
        "/portal/regulator/recalls",
        gtin="12ab",
        lot="",
        level="9",
    )
    assert bad.status_code == 422
    assert "Enter the product&#39;s GTIN (8 to 14 digits)." in bad.text
    assert 'aria-invalid="true"' in bad.text and 'value="12ab"' in bad.text


def test_the_regulator_attests_a_licence_and_suspends_and_reinstates_a_member(
    portal: PortalEnv, reg: TestClient
) -> None:
    c = portal.api.consortium
    r = _licence(reg, c.hospital2.address, number="HOSP-2031-7", device_classes=["1", "2"])
    assert r.status_code == 303, r.text
    licence = c.regulator.licence(c.hospital2.address, int(LicenceKind.PRACTICE))
    assert licence.class_mask == 0b110

    suspended = _post(
        reg,
        "/portal/regulator/members",
        f"/portal/regulator/members/{c.hospital2.address}/suspend",
        reason="inspection failed",
    )
    assert suspended.status_code == 303
    assert c.regulator.member(c.hospital2.address).status is MemberStatus.SUSPENDED
    portal.api.sync()
    page = reg.get("/portal/regulator/members")
    assert re.search(rf'data-address="{c.hospital2.address}" data-status="suspended"', page.text)
    back = _post(
        reg,
        "/portal/regulator/members",
        f"/portal/regulator/members/{c.hospital2.address}/reinstate",
    )
    assert back.status_code == 303
    assert c.regulator.member(c.hospital2.address).status is MemberStatus.ACTIVE


def test_a_bad_licence_form_names_the_fields_and_keeps_the_input(
    portal: PortalEnv, reg: TestClient
) -> None:
    c = portal.api.consortium
    r = _licence(reg, c.hospital2.address, number="LIC-1", valid_until="31/12/2031")
    assert r.status_code == 422
    assert "Enter the last day of validity." in r.text
    assert 'value="LIC-1"' in r.text and 'value="31/12/2031"' in r.text
    no_class = _licence(reg, c.hospital2.address, number="LIC-1")
    assert no_class.status_code == 422 and "Choose at least one device class." in no_class.text


def test_alerts_list_a_cold_chain_excursion(portal: PortalEnv, reg: TestClient) -> None:
    c = portal.api.consortium
    units = c.manufacturer.commission(c.lot_key, ["C1"]).value
    shipment = c.manufacturer.ship(c.distributor.address, units).value
    c.distributor.receive(shipment, temp_min=20, temp_max=310, excursion_seconds=5400)
    portal.api.sync()
    page = reg.get("/portal/regulator/alerts")
    assert 'data-kind="cold_chain_excursion"' in page.text
    assert f"shipment {shipment} received" in page.text
    assert f"Shipment {shipment} was received by Jiangsu Medical Distribution outside" in page.text
    chinese = reg.get("/portal/regulator/alerts?lang=zh")
    assert f"发货单 {shipment} 由 Jiangsu Medical Distribution 收货时温度超出范围" in chinese.text
    none = reg.get("/portal/regulator/alerts?kind=adverse_event_rate")
    assert 'data-kind="cold_chain_excursion"' not in none.text


def test_a_form_without_its_csrf_token_is_refused(portal: PortalEnv, reg: TestClient) -> None:
    c = portal.api.consortium
    r = reg.post(
        "/portal/regulator/recalls",
        data={"gtin": c.gtin, "lot": c.lot, "level": "1", "reason": "x"},
    )
    assert r.status_code == 403
    assert c.manufacturer.lot(c.lot_key).active_recall == 0  # type: ignore[union-attr]


def test_a_holder_acknowledges_in_its_portal_and_the_regulator_sees_it(
    portal: PortalEnv, reg: TestClient
) -> None:
    _stock(portal)
    c = portal.api.consortium
    recall_id = c.regulator.recall_lot(c.lot_key, level=3, reason_hash=bytes(32)).value
    portal.api.sync()
    hospital = portal.sign_in("hospital", lang="en")
    notices = hospital.get("/portal/recalls")
    assert f'data-recall="{recall_id}"' in notices.text
    done = hospital.post(
        f"/portal/recalls/{recall_id}/acknowledge",
        data={
            "csrf_token": _csrf(notices.text),
            "note": "implant clinic informed",
            "returned": "0",
            "destroyed": "0",
        },
    )
    assert done.status_code == 303
    portal.api.sync()  # the acknowledgement is signed on chain; the indexer brings it back
    assert 'data-state="acknowledged"' in hospital.get("/portal/recalls").text
    progress = reg.get(f"/portal/regulator/recalls/{recall_id}/progress").text
    assert 'data-figure="acknowledged">1 / 2<' in progress
    assert "implant clinic informed" not in progress  # the note is sealed, not on the page
    outsider = portal.sign_in("logistics", lang="en").get("/portal/recalls")
    assert f'data-recall="{recall_id}"' not in outsider.text
