"""EPCIS 2.0 named queries and query subscriptions end to end: the real app, a real chain
and indexer, a real HTTP receiver; the delivery worker's passes run by hand.

A stream subscription receives an EPCISQueryDocument (valid against GS1's JSON schema,
signed with its signatureToken) for a new shipping event its query matches and nothing
for events it does not; a schedule delivers what was recorded since its last run, and an
empty report with reportIfEmpty; another member sees none of it (404)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft7Validator

from medledger.api.epcis.schema import schema_text
from medledger.api.routes.epcis_query_runner import EpcisQueryRunner
from medledger.domain.delivery import webhook
from medledger.domain.delivery.worker import DeliveryWorker
from tests.api.partner_env import PartnerEnv, partner
from tests.api.webhook_receiver import Receiver, start_receiver

__all__ = ["partner"]  # the fixture, imported for pytest

TOKEN = "tok_" + "5a" * 20
QUERIES = "/v1/epcis/queries"


def _epc(serial: str) -> str:
    return f"urn:epc:id:sgtin:9506000.013435.{serial}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = start_receiver()
    yield r
    r.close()


@pytest.fixture
def env(partner: PartnerEnv) -> PartnerEnv:
    services = partner.api.services
    services.settings = services.settings.model_copy(
        update={
            "webhook_allow_private_http": True,
            "webhook_base_delay": 0.01,
            "webhook_max_delay": 0.02,
            "epcis_schedule_min_seconds": 1,
        }
    )
    return partner


def _deliver(env: PartnerEnv) -> None:
    services = env.api.services
    worker = DeliveryWorker(services, threads=2, query_runner=EpcisQueryRunner(services))
    try:
        worker.run_once()
    finally:
        worker.close()


def _query(env: PartnerEnv, name: str, serials: list[str]) -> dict[str, str]:
    headers = env.login(env.api.consortium.manufacturer)
    body = {
        "name": name,
        "params": {"MATCH_epc": [_epc(s) for s in serials], "EQ_bizStep": ["shipping"]},
    }
    r = env.api.client.post(QUERIES, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return headers


def _stream(env: PartnerEnv, headers: dict[str, str], name: str, dest: str) -> dict[str, Any]:
    r = env.api.client.post(
        f"{QUERIES}/{name}/subscriptions", json={"dest": dest, "stream": True}, headers=headers
    )
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def _commission(env: PartnerEnv, serials: list[str]) -> list[bytes]:
    c = env.api.consortium
    ids: list[bytes] = c.manufacturer.commission(c.lot_key, serials).value
    env.api.sync()
    return ids


def _ship(env: PartnerEnv, item: bytes) -> int:
    c = env.api.consortium
    shipment: int = c.manufacturer.ship(c.distributor.address, [item]).value
    env.api.sync()
    return shipment


def _event_list(received: Any) -> list[dict[str, Any]]:
    return _event_list_of(received.event)


def test_a_stream_delivers_a_signed_valid_document_only_for_matching_new_events(
    env: PartnerEnv, receiver: Receiver
) -> None:
    s1, s2, s3 = _commission(env, ["QS1", "QS2", "QS3"])
    headers = _query(env, "watched", ["QS1", "QS2"])
    client = env.api.client
    ran = client.get(f"{QUERIES}/watched/events", headers=headers)
    assert ran.status_code == 200, ran.text
    assert ran.json()["epcisBody"]["queryResults"]["queryName"] == "watched"
    assert _event_list_of(ran.json()) == []  # commissioned, not yet shipped

    r = client.post(
        f"{QUERIES}/watched/subscriptions",
        json={"dest": receiver.url("/stream"), "stream": True, "signatureToken": TOKEN},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    sub = r.json()
    assert sub["signatureToken"] == TOKEN and sub["stream"] and sub["nextRunAt"] is None

    _ship(env, s3)  # an EPC the query does not name
    _deliver(env)
    assert receiver.got["/stream"] == []
    shipment = _ship(env, s1)
    _deliver(env)
    _deliver(env)  # nothing new: nothing sent again

    (got,) = receiver.got["/stream"]
    assert webhook.verify(TOKEN, got.headers["medledger-signature"], got.body)
    assert not webhook.verify("tok_" + "00" * 20, got.headers["medledger-signature"], got.body)
    assert not list(Draft7Validator(json.loads(schema_text())).iter_errors(got.event))
    results = got.event["epcisBody"]["queryResults"]
    assert results["subscriptionID"] == sub["subscriptionID"]
    assert results["queryName"] == "watched"
    (event,) = _event_list(got)
    assert event["bizStep"] == "shipping" and event["medledger:shipmentId"] == shipment
    assert event["epcList"][0].endswith("/21/QS1")

    one = client.get(f"{QUERIES}/watched/subscriptions/{sub['subscriptionID']}", headers=headers)
    assert one.status_code == 200 and one.json()["cursor"] > sub["cursor"]
    generic = client.get(f"/v1/partner/subscriptions/{sub['subscriptionID']}", headers=headers)
    assert generic.status_code == 200 and generic.json()["status"] == "active"
    assert s2  # commissioned, never shipped: never delivered


def _event_list_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return events


def test_a_schedule_delivers_what_was_recorded_since_and_reports_if_empty(
    env: PartnerEnv, receiver: Receiver
) -> None:
    (unit,) = _commission(env, ["QT1"])
    headers = _query(env, "daily", ["QT1"])
    every_second = {"second": "[0-59]"}
    body = {"dest": receiver.url("/sched"), "schedule": every_second, "reportIfEmpty": True}
    r = env.api.client.post(f"{QUERIES}/daily/subscriptions", json=body, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["nextRunAt"] is not None
    _ship(env, unit)
    time.sleep(1.1)
    _deliver(env)
    time.sleep(1.1)
    _deliver(env)
    first, second = receiver.got["/sched"]
    assert [e["bizStep"] for e in _event_list(first)] == ["shipping"]
    assert _event_list(second) == []  # nothing recorded since: an empty report
    assert first.headers["medledger-event-id"] != second.headers["medledger-event-id"]
    assert webhook.verify(
        r.json()["signatureToken"], second.headers["medledger-signature"], second.body
    )


def test_schedules_below_the_minimum_interval_and_bad_bodies_are_refused(env: PartnerEnv) -> None:
    env.api.services.settings = env.api.services.settings.model_copy(
        update={"epcis_schedule_min_seconds": 3600}
    )
    _commission(env, ["QU1"])
    headers = _query(env, "guarded", ["QU1"])
    url = f"{QUERIES}/guarded/subscriptions"
    hook = "http://127.0.0.1:9/hook"
    cases = [
        ({"dest": hook, "schedule": {"minute": "[0-59]"}}, "epcis_schedule_too_frequent"),
        ({"dest": hook, "schedule": {"hour": "25"}}, "epcis_schedule_invalid"),
        ({"dest": hook, "schedule": {"dayOfMonth": "30", "month": "2"}}, "epcis_schedule_invalid"),
        ({"dest": hook, "stream": True, "schedule": {"minute": "0"}}, "epcis_subscription_mode"),
        ({"dest": hook}, "epcis_subscription_mode"),
        ({"dest": "ftp://example.com/x", "stream": True}, "webhook_url_invalid"),
    ]
    for body, code in cases:
        r = env.api.client.post(url, json=body, headers=headers)
        assert r.status_code == 422 and r.json()["code"] == code, (body, r.text)
    hourly = {"dest": hook, "schedule": {"minute": "15"}}
    assert env.api.client.post(url, json=hourly, headers=headers).status_code == 201
    bad = {"name": "x", "params": {"EQ_eventID": ["a"]}}
    r = env.api.client.post(QUERIES, json=bad, headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "epcis_query_parameter"
    again = {"name": "guarded", "params": {"MATCH_epc": [_epc("QU1")]}}
    r = env.api.client.post(QUERIES, json=again, headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "epcis_query_exists"
    r = env.api.client.delete(f"{QUERIES}/guarded", headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "epcis_query_in_use"


def test_another_member_sees_neither_the_query_nor_its_subscriptions(
    env: PartnerEnv, receiver: Receiver
) -> None:
    c = env.api.consortium
    _commission(env, ["QV1"])
    headers = _query(env, "private", ["QV1"])
    client = env.api.client
    sub = _stream(env, headers, "private", receiver.url("/p"))
    other = env.login(c.hospital)
    base = f"{QUERIES}/private"
    sub_url = f"{base}/subscriptions/{sub['subscriptionID']}"
    for method, url in [
        ("GET", base),
        ("GET", f"{base}/events"),
        ("GET", f"{base}/subscriptions"),
        ("GET", sub_url),
        ("DELETE", sub_url),
        ("DELETE", base),
    ]:
        r = client.request(method, url, headers=other)
        assert r.status_code == 404, (method, url, r.text)
    r = client.post(
        f"{base}/subscriptions", json={"dest": receiver.url("/x"), "stream": True}, headers=other
    )
    assert r.status_code == 404
    assert client.get(QUERIES, headers=other).json() == {"queries": []}
    # Nor may it save a query naming the manufacturer's unit.
    stolen = {"name": "stolen", "params": {"MATCH_epc": [_epc("QV1")]}}
    r = client.post(QUERIES, json=stolen, headers=other)
    assert r.status_code == 404 and r.json()["code"] == "unknown_item"
    r = client.post(QUERIES, json={"name": "all", "params": {}}, headers=other)
    assert r.status_code == 403 and r.json()["code"] == "epc_required"
    # The owner still has both, and removes them.
    assert client.get(sub_url, headers=headers).status_code == 200
    assert client.delete(sub_url, headers=headers).status_code == 204
    assert client.get(sub_url, headers=headers).status_code == 404
    assert client.delete(base, headers=headers).status_code == 204
    assert client.get(base, headers=headers).status_code == 404


def test_a_failed_run_is_retried_with_the_same_id_and_the_cursor_waits_for_a_2xx(
    env: PartnerEnv, receiver: Receiver
) -> None:
    (unit,) = _commission(env, ["QW1"])
    headers = _query(env, "retried", ["QW1"])
    client = env.api.client
    created = _stream(env, headers, "retried", receiver.url("/flaky"))
    sub_url = f"{QUERIES}/retried/subscriptions/{created['subscriptionID']}"
    receiver.answer("/flaky", 500)
    _ship(env, unit)
    _deliver(env)
    assert client.get(sub_url, headers=headers).json()["cursor"] == created["cursor"]
    time.sleep(0.05)
    _deliver(env)
    first, second = receiver.got["/flaky"]
    assert first.headers["medledger-event-id"] == second.headers["medledger-event-id"]
    assert client.get(sub_url, headers=headers).json()["cursor"] > created["cursor"]
    generic = f"/v1/partner/subscriptions/{created['subscriptionID']}"
    (delivery,) = client.get(f"{generic}/deliveries", headers=headers).json()["deliveries"]
    assert (delivery["state"], delivery["attempts"]) == ("delivered", 2)
    # Removed through the webhook routes, it frees its query.
    assert client.delete(generic, headers=headers).status_code == 204
    assert client.delete(f"{QUERIES}/retried", headers=headers).status_code == 204
