"""The notification centre's pages and JSON without a browser: a member sees only its own
events and the regulator's portal every event; the unread count is per user (two users of
one organisation), "mark all as read" never passes what the page showed; bad input is a
4xx, and a visitor is sent to sign in."""

from __future__ import annotations

from tests.portal.conftest import PortalEnv, csrf_of
from tests.portal.regulator_env import regulator_app_client, sign_in


def _ship(portal: PortalEnv, to: str, serials: list[str]) -> int:
    c = portal.api.consortium
    ids = c.manufacturer.commission(c.lot_key, serials).value
    shipment = int(c.manufacturer.ship(c.by_name(to).address, ids).value)
    portal.api.sync()
    return shipment


def test_each_sees_its_own_events_and_the_regulator_all(portal: PortalEnv) -> None:
    to_distributor = _ship(portal, "distributor", ["NP0001"])
    to_hospital = _ship(portal, "hospital", ["NP0002"])
    distributor = portal.sign_in("distributor", lang="zh").get("/portal/notifications/feed")
    assert distributor.status_code == 200
    kinds = {(e["kind"], e["href"]) for e in distributor.json()["events"]}
    assert ("shipment.inbound", f"/portal/shipments/inbound/{to_distributor}") in kinds
    assert all(f"/{to_hospital}" not in str(href) for _, href in kinds)
    labels = {e["label"] for e in distributor.json()["events"]}
    assert "新的到货" in labels
    sender = portal.sign_in("manufacturer").get("/portal/notifications/feed").json()["events"]
    assert {e["href"] for e in sender if e["kind"] == "shipment.inbound"} == {
        "/portal/shipments/outbound"
    }
    hospital = portal.sign_in("hospital", lang="en").get("/portal/notifications")
    assert "Inbound shipment" in hospital.text
    assert f"/portal/shipments/inbound/{to_distributor}" not in hospital.text
    regulator = sign_in(regulator_app_client(portal), "regulator")
    seen = regulator.get("/portal/notifications/feed").json()["events"]
    shipments = {e["subject"] for e in seen if e["kind"] == "shipment.inbound"}
    assert len(shipments) >= 2  # both members' inbound shipments
    page = regulator.get("/portal/notifications")
    assert page.status_code == 200 and "Inbound shipment" in page.text


def test_the_unread_count_is_per_user_and_marking_stops_at_what_was_shown(
    portal: PortalEnv,
) -> None:
    _ship(portal, "distributor", ["NP0101"])
    portal.add_staff("distributor-qa", of="distributor", role="qa")
    clerk = portal.sign_in("distributor")
    qa = portal.sign_in("distributor-qa")
    unread = clerk.get("/portal/notifications/unread").json()["unread"]
    assert unread >= 1 and qa.get("/portal/notifications/unread").json()["unread"] == unread
    page = clerk.get("/portal/notifications")
    shown = clerk.get("/portal/notifications/feed").json()["newest"]
    _ship(portal, "distributor", ["NP0102"])  # arrives after the page was shown
    marked = clerk.post(
        "/portal/notifications/read", data={"csrf_token": csrf_of(page.text), "up_to": shown}
    )
    assert marked.status_code == 303 and marked.headers["location"] == "/portal/notifications"
    left = clerk.get("/portal/notifications/unread").json()["unread"]
    assert 1 <= left < unread + 1  # the new shipment's events stay unread
    assert qa.get("/portal/notifications/unread").json()["unread"] > left  # QA read nothing
    clerk.post(
        "/portal/notifications/read", data={"csrf_token": csrf_of(page.text), "up_to": 2**62}
    )
    assert clerk.get("/portal/notifications/unread").json()["unread"] == 0
    _ship(portal, "distributor", ["NP0103"])  # marking "everything" did not cover the future
    assert clerk.get("/portal/notifications/unread").json()["unread"] >= 1


def test_bad_input_is_refused_and_visitors_sign_in(portal: PortalEnv) -> None:
    client = portal.sign_in("distributor")
    for url in (
        "/portal/notifications/feed?after=-1",
        "/portal/notifications/feed?after=abc",
        "/portal/notifications/feed?kind=../etc",
        "/portal/notifications?kind=" + "a" * 100,
    ):
        answer = client.get(url)
        assert answer.status_code == 422, url
        assert answer.json()["code"], url
    page = client.get("/portal/notifications")
    refused = client.post("/portal/notifications/read", data={"up_to": 1})
    assert refused.status_code == 403  # no CSRF token
    bad = client.post(
        "/portal/notifications/read", data={"csrf_token": csrf_of(page.text), "up_to": "-5"}
    )
    assert bad.status_code == 422
    visitor = portal.client().get("/portal/notifications/feed")
    assert visitor.status_code == 303 and "/portal/sign-in" in visitor.headers["location"]
