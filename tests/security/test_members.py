"""Attack replays by members with valid keys (issue 13, findings 7, 8, 10, 11 and the
signature part of 15): concurrent custodial operations of one member, a portal receipt
rejecting several units, adverse events about other members' goods, what one tenant
learns about another from refusals and traces, and malleable order signatures.

The members are the demo consortium's (their keys in the partner API's custody, as
`medledger up` leaves them); every request goes over HTTP to the real stack. This module's
clients connect from 127.0.0.71, so the sign-in budgets they spend are their own.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from eth_account import Account

from medledger.domain.orders import SECP256K1_N
from medledger.sdk.gs1 import item_id, lot_key, unit_path
from medledger.sdk.messages import Domain, ShipOrder, sign_order
from tests.api.adverse_reports import report_body
from tests.security.conftest import Target

SOURCE = "127.0.0.71"
MAKER, DISTRIBUTOR, OTHER_DISTRIBUTOR = "chengrui", "ruitong", "kangze"
HOSPITAL, OTHER_HOSPITAL = "jiahe", "xihu"
STENT_LOT = "CR2601A"  # chengrui's stents: a case to ruitong, units on to jiahe and xihu


@pytest.fixture(scope="module")
def client(target: Target) -> Iterator[httpx.Client]:
    transport = httpx.HTTPTransport(local_address=SOURCE)
    with httpx.Client(base_url=target.api, transport=transport, timeout=90) as http:
        yield http


@pytest.fixture(scope="module")
def tokens(target: Target, client: httpx.Client) -> dict[str, dict[str, str]]:
    """Authorization headers per member slug, signed in once through challenge and token."""
    return {
        slug: target.bearer(slug)
        for slug in (MAKER, DISTRIBUTOR, OTHER_DISTRIBUTOR, HOSPITAL, OTHER_HOSPITAL)
    }


def _address(target: Target, slug: str) -> str:
    return str(target.organisation(slug)["address"])


def _stent_gtin(target: Target) -> str:
    return str(next(p["gtin"] for p in target.seed.products if STENT_LOT in p["lots"]))


def _commission(
    target: Target, client: httpx.Client, tokens: dict[str, dict[str, str]], count: int
) -> list[str]:
    """`count` fresh stents at the manufacturer (serials unique to this run)."""
    tag = "M" + secrets.token_hex(4).upper()
    serials = [f"{tag}{n:02d}" for n in range(count)]
    key = lot_key(_stent_gtin(target), STENT_LOT)
    body = {"lot_key": "0x" + key.hex(), "serials": serials}
    made = client.post("/v1/partner/commission", json=body, headers=tokens[MAKER])
    assert made.status_code == 201, made.text
    ids: list[str] = made.json()["item_ids"]
    return ids


def _ship(
    target: Target, client: httpx.Client, tokens: dict[str, dict[str, str]], ids: list[str], to: str
) -> httpx.Response:
    body = {"receiver": _address(target, to), "item_ids": ids}
    return client.post("/v1/partner/shipments", json=body, headers=tokens[MAKER])


def test_four_parallel_ships_by_one_member_all_succeed(
    target: Target, client: httpx.Client, tokens: dict[str, dict[str, str]]
) -> None:
    ids = _commission(target, client, tokens, 4)
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(lambda unit: _ship(target, client, tokens, [unit], DISTRIBUTOR), ids)
        )
    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    shipments = {a.json()["shipment_id"] for a in answers}
    assert len(shipments) == 4
    target.assert_still_serving()


def test_two_parallel_ships_of_one_unit_give_one_201_and_one_409(
    target: Target, client: httpx.Client, tokens: dict[str, dict[str, str]]
) -> None:
    (unit,) = _commission(target, client, tokens, 1)
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(
                lambda to: _ship(target, client, tokens, [unit], to),
                (DISTRIBUTOR, OTHER_DISTRIBUTOR),
            )
        )
    by_status = sorted(answers, key=lambda a: a.status_code)
    assert [a.status_code for a in by_status] == [201, 409], [a.text for a in answers]
    loser = by_status[1].json()
    assert loser["code"] == "ItemsWrongStatus"  # the contract's error: already in transit
    assert loser["arguments"]["id"] == unit
    target.assert_still_serving()


def _portal_sign_in(target: Target, slug: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=SOURCE)
    portal = httpx.Client(base_url=target.api, transport=transport, timeout=90)
    form = {"username": slug, "password": target.passwords()[slug], "csrf_token": _csrf(portal)}
    signed_in = portal.post("/portal/sign-in", data=form)
    assert signed_in.status_code == 303, signed_in.text
    return portal


def _csrf(portal: httpx.Client, path: str = "/portal/sign-in") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', portal.get(path).text)
    assert found is not None, path
    return found.group(1)


def test_a_portal_receipt_rejects_two_units_of_a_shipment(
    target: Target, client: httpx.Client, tokens: dict[str, dict[str, str]]
) -> None:
    ids = _commission(target, client, tokens, 3)
    sent = _ship(target, client, tokens, ids, DISTRIBUTOR)
    assert sent.status_code == 201, sent.text
    shipment_id = sent.json()["shipment_id"]
    portal = _portal_sign_in(target, DISTRIBUTOR)
    try:
        form_url = f"/portal/shipments/inbound/{shipment_id}"
        fields: list[tuple[str, str]] = [
            ("csrf_token", _csrf(portal, form_url)),
            (f"count:{_stent_gtin(target)}:{STENT_LOT}", "1"),
            ("temp_min", "4"),
            ("temp_max", "7"),
            ("excursion_minutes", "0"),
            ("reject", ids[2]),  # the last shipped first
            ("reject", ids[0]),
        ]
        done = portal.post(
            form_url,
            content=str(httpx.QueryParams(fields)),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    finally:
        portal.close()
    assert done.status_code == 200, done.text
    assert 'data-code="' not in done.text
    deadline = time.monotonic() + 30  # the shipments list reads the index, a moment behind
    while True:
        shipments = client.get("/v1/partner/shipments", headers=tokens[DISTRIBUTOR]).json()
        settled = next(s for s in shipments if s["shipment_id"] == shipment_id)
        if settled["status"] != "in_transit" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert (settled["status"], settled["accepted_count"], settled["rejected_count"]) == (
        "received",
        1,
        2,
    )
    target.assert_still_serving()


def _report(
    client: httpx.Client, tokens: dict[str, dict[str, str]], slug: str, subject: str
) -> httpx.Response:
    body = report_body(subject, severity=1)
    return client.post("/v1/partner/adverse-events", json=body, headers=tokens[slug])


def test_an_unrelated_members_adverse_event_is_refused(
    target: Target, client: httpx.Client, tokens: dict[str, dict[str, str]]
) -> None:
    (unit,) = _commission(target, client, tokens, 1)  # held by the manufacturer
    lot = "0x" + lot_key(_stent_gtin(target), STENT_LOT).hex()
    for subject in (unit, lot):
        refused = _report(client, tokens, OTHER_HOSPITAL, subject)
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "RecordsNotConcerned"
    assert _report(client, tokens, MAKER, lot).status_code == 201
    target.assert_still_serving()


def test_refusals_do_not_name_another_tenants_holder_or_shipment(
    target: Target, client: httpx.Client, tokens: dict[str, dict[str, str]]
) -> None:
    maker = _address(target, MAKER)
    distributor = _address(target, DISTRIBUTOR)
    (held, travelling) = _commission(target, client, tokens, 2)
    never = "0x" + item_id(unit_path(_stent_gtin(target), "NEVER" + secrets.token_hex(3))).hex()
    stranger = tokens[OTHER_HOSPITAL]
    answers = []
    for unit in (held, never):
        for action in ("dispense", "quarantine", "destroy"):
            refused = client.post(
                f"/v1/partner/items/{action}", json={"item_ids": [unit]}, headers=stranger
            )
            assert refused.status_code == 409, refused.text
            assert refused.json()["code"] == "ItemsNotHolder"
            assert refused.json()["arguments"] == {"id": unit}
            assert maker not in refused.text
            answers.append(refused.json()["detail"].replace(unit[2:], "X"))
    assert answers[:3] == answers[3:]  # another's unit answers as one that does not exist

    sent = _ship(target, client, tokens, [travelling], DISTRIBUTOR)
    assert sent.status_code == 201, sent.text
    shipment_id = sent.json()["shipment_id"]
    for sid in (shipment_id, shipment_id + 10**9):
        for action, body in (("receive", {"temp_min": 40, "temp_max": 60}), ("cancel", {})):
            refused = client.post(
                f"/v1/partner/shipments/{sid}/{action}", json=body, headers=stranger
            )
            assert refused.status_code == 404, refused.text
            assert refused.json()["code"] == "shipment_not_found"
            for secret in (maker, distributor, "in_transit", "InTransit"):
                assert secret not in refused.text
    target.assert_still_serving()


def test_a_hospitals_lot_trace_hides_other_members_stock(
    target: Target, client: httpx.Client, tokens: dict[str, dict[str, str]]
) -> None:
    url = f"/v1/trace/lots/{_stent_gtin(target)}/{STENT_LOT}"
    seen = client.get(url, headers=tokens[HOSPITAL])
    assert seen.status_code == 200, seen.text
    body = seen.json()
    me = _address(target, HOSPITAL)
    assert {h["holder"]["address"] for h in body["holders"]} == {me}
    assert {o["organisation"]["address"] for o in body["reached"]} == {me}
    for other in (MAKER, DISTRIBUTOR, OTHER_HOSPITAL):
        assert _address(target, other) not in seen.text
    maker_view = client.get(url, headers=tokens[MAKER]).json()
    assert _address(target, OTHER_HOSPITAL) in {
        h["holder"]["address"] for h in maker_view["holders"]
    }
    target.assert_still_serving()


def _malleable(signature: bytes) -> bytes:
    s = int.from_bytes(signature[32:64], "big")
    return signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]])


@pytest.mark.parametrize(
    ("reason", "tamper"),
    [("high_s", _malleable), ("v", lambda sig: sig[:64] + bytes([sig[64] - 27]))],
)
def test_a_malleable_order_signature_is_refused_with_422(
    target: Target,
    client: httpx.Client,
    tokens: dict[str, dict[str, str]],
    reason: str,
    tamper: Any,
) -> None:
    ids = _commission(target, client, tokens, 1)
    about = client.get("/v1/partner/nonce", headers=tokens[MAKER]).json()
    domain = Domain(about["domain"]["chainId"], about["domain"]["verifyingContract"])
    deadline = 2**40
    order = ShipOrder(
        sender=_address(target, MAKER),
        receiver=_address(target, DISTRIBUTOR),
        itemIds=tuple(bytes.fromhex(i[2:]) for i in ids),
        documentHash=bytes(32),
        nonce=about["nonce"],
        deadline=deadline,
    )
    signature = sign_order(Account.from_key(target.member_keys()[MAKER]), order, domain)
    body = {
        "receiver": order.receiver,
        "item_ids": ids,
        "nonce": order.nonce,
        "deadline": deadline,
        "signature": "0x" + tamper(signature).hex(),
    }
    refused = client.post("/v1/partner/shipments", json=body, headers=tokens[MAKER])
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "signature_malformed"
    assert refused.json()["reason"] == reason
    target.assert_still_serving()
