"""Webhook subscriptions end to end: the real app, a real chain and indexer, a real HTTP
receiver; the delivery worker's passes are run by hand (`run_once`) so each step is seen.

Signatures verify with the documented algorithm, events arrive in seq order, a 5xx is
retried until a 2xx, spent attempts dead-letter the event and suspend the subscription
until a replay, and no subscription ever receives an event of which its owner is not in
the audience."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from medledger.domain.delivery import webhook
from medledger.domain.delivery.worker import DeliveryWorker
from medledger.indexer.db import Sql
from medledger.sdk.ledger import Ledger
from tests.api.partner_env import PartnerEnv, partner
from tests.api.webhook_receiver import Receiver, start_receiver

__all__ = ["partner"]  # the fixture, imported for pytest

KINDS = ["shipment.inbound", "shipment.received"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = start_receiver()
    yield r
    r.close()


@pytest.fixture
def hooks(partner: PartnerEnv) -> PartnerEnv:
    services = partner.api.services
    services.settings = services.settings.model_copy(
        update={
            "webhook_allow_private_http": True,
            "webhook_base_delay": 0.01,
            "webhook_max_delay": 0.02,
            "webhook_max_attempts": 3,
        }
    )
    return partner


def _subscribe(
    env: PartnerEnv,
    ledger: Ledger,
    url: str,
    kinds: list[str] | None = None,
    counterparty: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url, "kinds": kinds or KINDS}
    if counterparty is not None:
        body["counterparty"] = counterparty
    answer = env.api.client.post("/v1/partner/subscriptions", json=body, headers=env.login(ledger))
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def _deliver(env: PartnerEnv, passes: int = 1, pause: float = 0.0) -> None:
    worker = DeliveryWorker(env.api.services, threads=2)
    try:
        for _ in range(passes):
            worker.run_once()
            time.sleep(pause)
    finally:
        worker.close()


def _ship(env: PartnerEnv, serials: list[str]) -> list[int]:
    c = env.api.consortium
    ids = c.manufacturer.commission(c.lot_key, serials).value
    shipments = [c.manufacturer.ship(c.distributor.address, [i]).value for i in ids]
    env.api.sync()
    return shipments


def test_events_arrive_signed_in_order_once_and_the_secret_is_shown_only_at_creation(
    hooks: PartnerEnv, receiver: Receiver
) -> None:
    c = hooks.api.consortium
    created = _subscribe(hooks, c.distributor, receiver.url("/erp"))
    assert created["secret"].startswith("whsec_")
    sub = hooks.api.client.get(
        f"/v1/partner/subscriptions/{created['id']}", headers=hooks.login(c.distributor)
    ).json()
    assert "secret" not in sub and sub["status"] == "active"

    shipments = _ship(hooks, ["WH1", "WH2", "WH3"])
    _deliver(hooks, passes=2)

    got = receiver.got["/erp"]
    assert [r.event["subject"]["shipment_id"] for r in got] == shipments
    assert [r.event["seq"] for r in got] == sorted(r.event["seq"] for r in got)
    for r in got:
        assert webhook.verify(created["secret"], r.headers["medledger-signature"], r.body)
        assert not webhook.verify("whsec_other", r.headers["medledger-signature"], r.body)
        assert r.headers["medledger-event-id"] == r.event["id"]
        assert r.event["type"] == "shipment.inbound"
        assert r.event["subject"]["counterparty"]["address"] == c.manufacturer.address
    stale = int(time.time()) - webhook.REPLAY_WINDOW - 5
    signature = webhook.signature_header(created["secret"], stale, got[0].body)
    assert not webhook.verify(created["secret"], signature, got[0].body)  # outside the window

    after = hooks.api.client.get(
        f"/v1/partner/subscriptions/{created['id']}", headers=hooks.login(c.distributor)
    ).json()
    assert after["cursor"] == got[-1].event["seq"]
    _deliver(hooks)
    assert len(receiver.got["/erp"]) == 3  # nothing is sent again after its 2xx


def test_a_5xx_is_retried_until_a_2xx_and_later_events_wait_for_it(
    hooks: PartnerEnv, receiver: Receiver
) -> None:
    c = hooks.api.consortium
    created = _subscribe(hooks, c.distributor, receiver.url("/flaky"))
    receiver.answer("/flaky", 500, 503)
    shipments = _ship(hooks, ["RT1", "RT2"])
    _deliver(hooks, passes=6, pause=0.05)

    got = [r.event["subject"]["shipment_id"] for r in receiver.got["/flaky"]]
    assert got == [shipments[0], shipments[0], shipments[0], shipments[1]]
    ids = {r.headers["medledger-event-id"] for r in receiver.got["/flaky"][:3]}
    assert len(ids) == 1  # the same event id on every attempt
    listing = hooks.api.client.get(
        f"/v1/partner/subscriptions/{created['id']}/deliveries",
        headers=hooks.login(c.distributor),
    ).json()["deliveries"]
    # A first-attempt delivery is the cursor alone; one that needed retries keeps its row.
    assert [(d["state"], d["attempts"]) for d in listing] == [("delivered", 3)]
    sub = hooks.api.client.get(
        f"/v1/partner/subscriptions/{created['id']}", headers=hooks.login(c.distributor)
    ).json()
    assert sub["cursor"] == receiver.got["/flaky"][-1].event["seq"]


def test_spent_attempts_dead_letter_and_suspend_until_a_replay(
    hooks: PartnerEnv, receiver: Receiver
) -> None:
    c = hooks.api.consortium
    headers = hooks.login(c.distributor)
    created = _subscribe(hooks, c.distributor, receiver.url("/down"))
    base = f"/v1/partner/subscriptions/{created['id']}"
    receiver.answer("/down", 500, 500, 500)
    shipments = _ship(hooks, ["DL1", "DL2"])
    _deliver(hooks, passes=5, pause=0.05)

    assert len(receiver.got["/down"]) == 3  # the second event never jumps the dead one
    sub = hooks.api.client.get(base, headers=headers).json()
    assert sub["status"] == "suspended"
    dead = hooks.api.client.get(f"{base}/dead-letters", headers=headers).json()["deliveries"]
    assert [(d["attempts"], d["last_status"]) for d in dead] == [(3, 500)]
    resumed = hooks.api.client.post(f"{base}/resume", headers=headers)
    assert resumed.status_code == 409 and resumed.json()["code"] == "subscription_suspended"
    missing = hooks.api.client.post(
        f"{base}/deliveries/{dead[0]['seq'] + 99}/replay", headers=headers
    )
    assert missing.status_code == 404 and missing.json()["code"] == "delivery_not_dead"

    replayed = hooks.api.client.post(f"{base}/deliveries/{dead[0]['seq']}/replay", headers=headers)
    assert replayed.status_code == 200 and replayed.json()["status"] == "active"
    _deliver(hooks, passes=2)
    got = [r.event["subject"]["shipment_id"] for r in receiver.got["/down"]]
    assert got == [shipments[0]] * 4 + [shipments[1]]


def test_the_counterparty_filter_matches_the_other_party_of_a_shipment_either_way(
    hooks: PartnerEnv, receiver: Receiver
) -> None:
    c = hooks.api.consortium
    m, d, h = c.manufacturer, c.distributor, c.hospital
    _subscribe(hooks, m, receiver.url("/to-d"), counterparty=d.address.lower())
    _subscribe(hooks, d, receiver.url("/from-m"), counterparty=m.address)
    _subscribe(hooks, m, receiver.url("/self"), counterparty=m.address)
    _subscribe(hooks, d, receiver.url("/from-h"), counterparty=h.address)
    ids = m.commission(c.lot_key, ["CP1", "CP2"]).value
    to_d = m.ship(d.address, ids[:1]).value
    m.ship(h.address, ids[1:])
    d.receive(to_d, temp_min=50, temp_max=60)
    hooks.api.sync()
    _deliver(hooks, passes=2)

    def seen(path: str) -> list[tuple[str, int]]:
        return [(e["type"], e["subject"]["shipment_id"]) for e in receiver.events(path)]

    both = [("shipment.inbound", to_d), ("shipment.received", to_d)]
    assert seen("/to-d") == both  # outbound: the receiver is the manufacturer's counterparty
    assert seen("/from-m") == both  # inbound: the sender is the distributor's
    assert seen("/self") == [] and seen("/from-h") == []


def test_subscription_routes_refuse_bad_urls_and_other_members(
    hooks: PartnerEnv, receiver: Receiver
) -> None:
    c = hooks.api.consortium
    client, headers = hooks.api.client, hooks.login(c.distributor)
    cases = [
        ("ftp://127.0.0.1/x", "webhook_url_invalid"),
        ("http://user:pw@127.0.0.1/x", "webhook_url_invalid"),
        ("http://8.8.8.8/hook", "webhook_url_invalid"),
        ("https://127.0.0.1:99999/x", "webhook_url_invalid"),
        ("https://example.org/" + "a" * 2100, "invalid_request"),
    ]
    for url, code in cases:
        answer = client.post(
            "/v1/partner/subscriptions", json={"url": url, "kinds": KINDS}, headers=headers
        )
        assert answer.status_code == 422 and answer.json()["code"] == code, (url, answer.text)
    unknown = client.post(
        "/v1/partner/subscriptions",
        json={"url": receiver.url("/x"), "kinds": ["shipment.teleported"]},
        headers=headers,
    )
    assert unknown.status_code == 422

    created = _subscribe(hooks, c.distributor, receiver.url("/mine"))
    other = hooks.login(c.hospital)
    for method, path in [
        ("get", ""),
        ("post", "/pause"),
        ("post", "/rotate-secret"),
        ("get", "/deliveries"),
        ("post", "/ping"),
        ("delete", ""),
    ]:
        answer = client.request(
            method, f"/v1/partner/subscriptions/{created['id']}{path}", headers=other
        )
        assert answer.status_code == 404 and answer.json()["code"] == "subscription_not_found"
    assert client.get("/v1/partner/subscriptions", headers=other).json() == {"subscriptions": []}

    ping = client.post(f"/v1/partner/subscriptions/{created['id']}/ping", headers=headers).json()
    assert ping == {"ok": True, "status": 200, "error": ""}
    (pinged,) = receiver.got["/mine"]
    assert pinged.event["type"] == "ping"
    assert webhook.verify(created["secret"], pinged.headers["medledger-signature"], pinged.body)
    rotated = client.post(
        f"/v1/partner/subscriptions/{created['id']}/rotate-secret", headers=headers
    ).json()
    assert rotated["secret"] != created["secret"]

    for i in range(19):
        _subscribe(hooks, c.distributor, receiver.url(f"/n{i}"))
    over = client.post(
        "/v1/partner/subscriptions",
        json={"url": receiver.url("/21"), "kinds": KINDS},
        headers=headers,
    )
    assert over.status_code == 409 and over.json()["code"] == "subscription_limit"


def test_no_subscription_of_any_role_receives_another_members_event(
    hooks: PartnerEnv, receiver: Receiver
) -> None:
    c = hooks.api.consortium
    every = [
        "shipment.inbound",
        "shipment.received",
        "shipment.rejected",
        "shipment.cancelled",
        "recall.issued",
        "item.quarantined",
        "item.released",
        "alert.cold_chain",
        "licence.changed",
    ]
    names = ["manufacturer", "distributor", "logistics", "hospital", "hospital2", "regulator"]
    for name in names:
        _subscribe(hooks, c.by_name(name), receiver.url(f"/{name}"), every)

    m, d, h = c.manufacturer, c.distributor, c.hospital
    ids = m.commission(c.lot_key, ["SW1", "SW2", "SW3"]).value
    shipped = m.ship(d.address, ids[:2]).value
    d.receive(shipped, temp_min=50, temp_max=90, rejected_ids=[ids[1]], excursion_seconds=600)
    d.release([ids[0]])
    m.cancel(m.ship(h.address, [ids[2]]).value)
    m.recall_lot(c.lot_key, level=2, reason_hash=b"\x01" * 32)
    hooks.api.sync()
    _deliver(hooks, passes=3)

    with hooks.api.services.engine.connect() as conn:
        sql = Sql(conn)
        audience: dict[int, set[str]] = {}
        for seq, address in sql.rows(
            "SELECT a.seq, o.address FROM ledger_event_audience a "
            "JOIN organisations o ON o.id = a.organisation_id"
        ):
            audience.setdefault(int(seq), set()).add(str(address))
    everything = {e["seq"] for e in receiver.events("/regulator")}
    assert sorted(e["type"] for e in receiver.events("/regulator")) == sorted(
        ["shipment.inbound", "shipment.received", "shipment.rejected", "alert.cold_chain"]
        + ["item.released", "shipment.inbound", "shipment.cancelled", "recall.issued"]
    )
    for name in names[:-1]:
        got = receiver.events(f"/{name}")
        address = c.by_name(name).address
        for event in got:
            assert address in audience[event["seq"]], (name, event["type"])
        expected = {s for s in everything if address in audience.get(s, set())}
        assert {e["seq"] for e in got} == expected, name
    assert receiver.events("/logistics") == [] and receiver.events("/hospital2") == []
    assert {e["type"] for e in receiver.events("/hospital")} == {
        "shipment.inbound",
        "shipment.cancelled",
    }


def test_the_readme_verifier_accepts_our_signature_and_refuses_others() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("Verify every request before acting on it:", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, Any] = {}
    exec(code, scope)  # the documented receiver, as a partner would paste it
    body = b'{"id":"1:7","type":"shipment.inbound"}'
    now = int(time.time())
    good = {"MedLedger-Signature": webhook.signature_header("whsec_x", now, body)}
    assert scope["verify"]("whsec_x", good, body)
    assert not scope["verify"]("whsec_y", good, body)
    assert not scope["verify"]("whsec_x", good, body + b" ")
    old = {"MedLedger-Signature": webhook.signature_header("whsec_x", now - 301, body)}
    assert not scope["verify"]("whsec_x", old, body)


def test_the_regulators_subscription_gets_every_members_events(
    hooks: PartnerEnv, receiver: Receiver
) -> None:
    from tests.api.regulator_mode import AUTH, regulator_client

    settings = hooks.api.services.settings
    client = regulator_client(
        hooks.api, master_key=settings.master_key, webhook_allow_private_http=True
    )
    services = client.app.state.services  # type: ignore[attr-defined]
    created = client.post(
        "/v1/regulator/subscriptions",
        json={"url": receiver.url("/nmpa"), "kinds": ["shipment.inbound"]},
        headers=AUTH,
    )
    assert created.status_code == 201, created.text
    assert client.post("/v1/regulator/subscriptions", json={}, headers={}).status_code == 401
    shipments = _ship(hooks, ["NM1", "NM2"])
    worker = DeliveryWorker(services, threads=1)
    try:
        worker.run_once()
    finally:
        worker.close()
    assert [e["subject"]["shipment_id"] for e in receiver.events("/nmpa")] == shipments
    listed = client.get("/v1/regulator/subscriptions", headers=AUTH).json()["subscriptions"]
    assert [s["id"] for s in listed] == [created.json()["id"]]
    # The partner API's members never see the regulator's subscriptions.
    mine = hooks.api.client.get(
        "/v1/partner/subscriptions", headers=hooks.login(hooks.api.consortium.distributor)
    ).json()
    assert mine == {"subscriptions": []}


def test_backoff_is_full_jitter_doubling_up_to_the_cap() -> None:
    from medledger.domain.delivery.worker import DeliveryPolicy, backoff

    policy = DeliveryPolicy(base_delay=1.0, max_delay=600.0, max_attempts=12)
    assert [backoff(policy, n, lambda: 1.0) for n in (1, 2, 3, 10, 11)] == [
        1.0,
        2.0,
        4.0,
        512.0,
        600.0,
    ]
    assert backoff(policy, 5, lambda: 0.0) == 0.0
    assert backoff(policy, 5, lambda: 0.5) == 8.0


def test_the_event_stream_can_be_polled_with_the_same_entitlement(hooks: PartnerEnv) -> None:
    c = hooks.api.consortium
    client = hooks.api.client
    start = client.get("/v1/partner/events?limit=500", headers=hooks.login(c.distributor)).json()
    shipments = _ship(hooks, ["PL1", "PL2"])
    page = client.get(
        "/v1/partner/events",
        params={"after": start["next_after"], "kinds": "shipment.inbound", "limit": 1},
        headers=hooks.login(c.distributor),
    ).json()
    assert [e["subject"]["shipment_id"] for e in page["events"]] == shipments[:1]
    rest = client.get(
        "/v1/partner/events",
        params={"after": page["next_after"], "kinds": "shipment.inbound"},
        headers=hooks.login(c.distributor),
    ).json()
    assert [e["subject"]["shipment_id"] for e in rest["events"]] == shipments[1:]
    other = client.get(
        "/v1/partner/events",
        params={"after": start["next_after"], "kinds": "shipment.inbound"},
        headers=hooks.login(c.hospital2),
    ).json()
    assert other["events"] == []
    assert client.get("/v1/partner/events").status_code == 401
    bad = client.get("/v1/partner/events?limit=501", headers=hooks.login(c.distributor))
    assert bad.status_code == 422


def _serve(handle: Any) -> tuple[str, Any]:
    """A raw TCP server on loopback running `handle(conn)` per connection; (url, socket)."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}/hook", server


def test_the_sender_keeps_one_connection_alive_and_reopens_one_the_receiver_closed() -> None:
    connections: list[int] = []

    def handle(conn: Any) -> None:
        connections.append(1)
        with conn:
            for _ in range(3):  # three requests, then the receiver closes it (idle timeout)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                while len(rest) < length:
                    rest += conn.recv(65536)
                conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")

    url, server = _serve(handle)
    sender = webhook.Sender()
    try:
        outcomes = [sender.post(url, event_id=f"1:{i}", secret="s", body=b"{}") for i in range(5)]
    finally:
        sender.close()
        server.close()
    assert [o.ok for o in outcomes] == [True] * 5
    assert len(connections) == 2  # one for three events, a second after the close


def test_a_receiver_trickling_its_answer_is_cut_off_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(webhook, "TOTAL_TIMEOUT", 0.5)

    def handle(conn: Any) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            for _ in range(100):  # a header line a byte at a time, never ending
                try:
                    conn.sendall(b"X")
                except OSError:
                    return
                time.sleep(0.1)

    url, server = _serve(handle)
    sender = webhook.Sender()
    started = time.monotonic()
    try:
        outcome = sender.post(url, event_id="1:1", secret="s", body=b"{}")
    finally:
        sender.close()
        server.close()
    assert not outcome.ok and outcome.status is None
    assert time.monotonic() - started < 3.0
