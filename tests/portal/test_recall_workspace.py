"""The manufacturer's recall workspace: it recalls its lot with a readable notice, the
hospital holding a unit reads the reason and acknowledges (signed on chain), the
manufacturer publishes a new notice version and closes only with a reason and a
confirmation while units are out; another manufacturer's recall is a 404. Issuing and
closing are maker-checker actions: proposed by one user, done on chain only when another
QA user or manager of the organisation approves it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from medledger.sdk.gs1 import Udi
from tests.portal.conftest import PortalEnv
from tests.portal.recall_approvals_env import approve


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def _post(client: TestClient, page_url: str, url: str, **fields: object):  # noqa: ANN202
    page = client.get(page_url)
    return client.post(url, data={"csrf_token": _csrf(page.text), **fields})


def test_the_manufacturer_runs_a_recall_in_its_workspace(portal: PortalEnv) -> None:
    c = portal.api.consortium
    units = c.manufacturer.commission(c.lot_key, ["W1", "W2", "W3"]).value
    c.distributor.receive(
        c.manufacturer.ship(c.distributor.address, units[:2]).value, temp_min=50, temp_max=80
    )
    c.hospital.receive(
        c.distributor.ship(c.hospital.address, units[1:2]).value, temp_min=50, temp_max=80
    )
    portal.api.sync()

    maker = portal.sign_in("manufacturer", lang="zh")
    home = "/portal/manufacturer/recalls"
    page = maker.get(home)
    assert (
        page.status_code == 200 and "召回原因" in page.text and "要求持有方采取的措施" in page.text
    )
    issued = _post(
        maker,
        home,
        home,
        gtin=c.gtin,
        lot=c.lot,
        level="2",
        reason="包装密封可能失效",
        action="立即隔离并退回生产企业",
        scope="整批",
        contact="质量部 400-000-0000",
    )
    assert issued.status_code == 303, issued.text
    # Proposed only: nothing on chain until a second person approves.
    assert c.manufacturer.lot(c.lot_key).active_recall == 0  # type: ignore[union-attr]
    waiting = maker.get(issued.headers["location"]).text
    assert "已提交申请" in waiting and 'data-field="reason">包装密封可能失效<' in waiting
    qa = portal.sign_in(portal.add_staff("mk-qa2", of="manufacturer", role="qa"), lang="zh")
    listed = qa.get("/portal/approvals").text
    assert (
        'data-field="action">立即隔离并退回生产企业<' in listed
        and 'data-field="level">2<' in listed
    )
    approve(qa, issued.headers["location"])
    recall_id = c.manufacturer.lot(c.lot_key).active_recall  # type: ignore[union-attr]
    assert recall_id and c.manufacturer.recall(recall_id)["initiator"] == c.manufacturer.address
    url = f"{home}/{recall_id}"
    portal.api.sync()
    detail = maker.get(url).text
    assert 'data-field="reason">包装密封可能失效<' in detail
    # One unit never left the manufacturer: it is neither outstanding nor returned.
    assert 'data-figure="outstanding">2<' in detail and 'data-figure="returned">0<' in detail

    # Every stock page flags the recalled lot, with the recall's id and level.
    dist = portal.sign_in("distributor", lang="zh").get("/portal/distributor").text
    assert f'data-hold="recalled" data-recall="{recall_id}"' in dist and "已召回（2 级" in dist
    own = maker.get("/portal/stock").text
    assert f'data-recall="{recall_id}"' in own

    hospital = portal.sign_in("hospital", lang="en")
    assert "Recalled (level 2" in hospital.get("/portal/hospital").text
    notices = hospital.get("/portal/recalls").text
    assert 'data-field="reason">包装密封可能失效<' in notices
    assert 'data-field="action">立即隔离并退回生产企业<' in notices
    done = hospital.post(
        f"/portal/recalls/{recall_id}/acknowledge",
        data={"csrf_token": _csrf(notices), "note": "ward informed", "returned": "0"},
    )
    assert done.status_code == 303
    portal.api.sync()
    assert 'data-figure="acknowledged">1 / 2<' in maker.get(url).text

    changed = _post(
        maker,
        url,
        f"{url}/notice",
        reason="包装密封可能失效",
        action="就地销毁并上报序列号",
        scope="整批",
        contact="质量部 400-000-0000",
    )
    assert changed.status_code == 303, changed.text
    portal.api.sync()
    assert 'data-field="action">就地销毁并上报序列号<' in hospital.get("/portal/recalls").text

    # The hospital destroys its unit of the recalled lot, signed with its key; a code of
    # another lot is refused on the page.
    page = hospital.get("/portal/recalls").text
    wrong = Udi(gtin=c.gtin, serial="W2", lot="OTHERLOT").gs1_payload()
    bad = hospital.post(
        f"/portal/recalls/{recall_id}/destroy",
        data={"csrf_token": _csrf(page), "codes": wrong},
    )
    assert "This code is not a unit of the recalled lot." in bad.text
    code = Udi(gtin=c.gtin, serial="W2", lot=c.lot).gs1_payload()
    gone = hospital.post(
        f"/portal/recalls/{recall_id}/destroy",
        data={"csrf_token": _csrf(page), "codes": code, "destroy_note": "incinerated"},
    )
    assert gone.status_code == 303, gone.text
    assert c.hospital.item(units[1]).status.name == "DESTROYED"
    portal.api.sync()
    row = maker.get(url).text
    assert 'data-figure="destroyed">1<' in row and 'data-figure="outstanding">1<' in row

    refused = _post(maker, url, f"{url}/close", outcome="")
    assert "请填写关闭原因并确认" in refused.text
    assert c.manufacturer.recall(recall_id)["open"] is True
    closed = _post(maker, url, f"{url}/close", outcome="库存核销", confirm_outstanding="yes")
    assert closed.status_code == 303, closed.text
    assert c.manufacturer.recall(recall_id)["open"] is True  # proposed, not yet approved
    listed = qa.get("/portal/approvals").text
    assert 'data-field="outstanding">1<' in listed and 'data-field="reason">库存核销<' in listed
    approve(qa, closed.headers["location"])
    assert c.manufacturer.recall(recall_id)["open"] is False

    # Nobody else's workspace shows it.
    other = portal.sign_in("distributor", lang="en")
    assert other.get(url).status_code in (403, 404)


def test_a_manufacturers_clerk_cannot_issue_a_recall(portal: PortalEnv) -> None:
    c = portal.api.consortium
    clerk = portal.sign_in(portal.add_staff("mk-clerk", of="manufacturer", role="clerk"))
    home = "/portal/manufacturer/recalls"
    refused = _post(
        clerk,
        home,
        home,
        gtin=c.gtin,
        lot=c.lot,
        level="1",
        reason="r",
        action="a",
        contact="c",
    )
    assert refused.status_code == 403
    assert c.manufacturer.lot(c.lot_key).active_recall == 0  # type: ignore[union-attr]
    qa = portal.sign_in(portal.add_staff("mk-qa", of="manufacturer", role="qa"))
    issued = _post(
        qa, home, home, gtin=c.gtin, lot=c.lot, level="1", reason="r", action="a", contact="c"
    )
    assert issued.status_code == 303, issued.text
    # The clerk can approve no more than it can propose.
    approval_id = issued.headers["location"].rsplit("proposed=", 1)[1]
    page = clerk.get("/portal/manufacturer/recalls").text
    refused = clerk.post(
        f"/portal/approvals/{approval_id}/approve", data={"csrf_token": _csrf(page)}
    )
    assert refused.status_code == 403
    assert c.manufacturer.lot(c.lot_key).active_recall == 0  # type: ignore[union-attr]


def test_a_recall_takes_effect_only_when_a_second_user_approves(portal: PortalEnv) -> None:
    """Proposed: nothing on chain; its proposer cannot approve it; rejected (with a reason)
    it never happens; proposed again and approved by another user: the recall is open on
    chain."""
    c = portal.api.consortium
    home = "/portal/manufacturer/recalls"
    maker = portal.sign_in(portal.add_staff("mk-maker", of="manufacturer", role="qa"), lang="en")
    checker = portal.sign_in(portal.add_staff("mk-checker", of="manufacturer", role="manager"))
    fields = {"gtin": c.gtin, "lot": c.lot, "level": "1", "reason": "sterility breach",
              "action": "quarantine and return", "contact": "QA 400"}  # fmt: skip
    first = _post(maker, home, home, **fields)
    assert first.status_code == 303, first.text
    assert c.manufacturer.lot(c.lot_key).active_recall == 0  # type: ignore[union-attr]

    own = approve(maker, first.headers["location"], expect=403)
    assert c.manufacturer.lot(c.lot_key).active_recall == 0  # type: ignore[union-attr]
    assert "another user must approve" in own.lower() or "approval_own_proposal" in own

    approval_id = first.headers["location"].rsplit("proposed=", 1)[1]
    page = checker.get("/portal/approvals").text
    no_reason = checker.post(
        f"/portal/approvals/{approval_id}/reject", data={"csrf_token": _csrf(page)}
    )
    assert no_reason.status_code == 422
    rejected = checker.post(
        f"/portal/approvals/{approval_id}/reject",
        data={"csrf_token": _csrf(page), "reason": "wrong lot"},
    )
    assert rejected.status_code == 200 and 'data-state="rejected"' in rejected.text
    assert c.manufacturer.lot(c.lot_key).active_recall == 0  # type: ignore[union-attr]

    second = _post(maker, home, home, **fields)
    assert second.status_code == 303, second.text
    approve(checker, second.headers["location"])
    recall_id = c.manufacturer.lot(c.lot_key).active_recall  # type: ignore[union-attr]
    assert recall_id and c.manufacturer.recall(recall_id)["open"] is True
    assert c.manufacturer.recall(recall_id)["level"] == 1

    # A second proposal for the same lot is refused at once (already under recall).
    again = _post(maker, home, home, **fields)
    assert again.status_code != 303 and 'data-code="DevicesLotAlreadyRecalled"' in again.text
