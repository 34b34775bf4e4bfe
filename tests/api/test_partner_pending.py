"""Writes the chain accepts but does not mine in time: 202 with a status URL, never a 5xx;
the status of a transaction is its sender's to see; a race two writes of one member lost
on chain is named after the ledger's error. eth-tester with auto-mining off stands for a
slow chain (the node accepted the transaction; no block has come yet)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from medledger.domain.chain import reader
from medledger.sdk.transactions import TransactionPending
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv
from tests.api.test_partner import commission, deliver, post

partner = partner_env.partner


@pytest.fixture
def slow(partner: PartnerEnv) -> Iterator[PartnerEnv]:
    """Blocks come only when the test mines them; a write waits 0.3 s for its receipt."""
    reader(partner.api.services).receipt_timeout = 0.3
    partner.api.chain.tester.disable_auto_mine_transactions()
    try:
        yield partner
    finally:
        partner.api.chain.tester.enable_auto_mine_transactions()


def _status(partner: PartnerEnv, url: str, who: Any) -> Any:
    return partner.api.client.get(url, headers=partner.login(who))


def test_a_write_not_mined_in_time_is_202_with_a_status_url_then_mined(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    ids = commission(partner, "PD01")
    deliver(partner, c.manufacturer, c.hospital, ids)
    reader(partner.api.services).receipt_timeout = 0.3
    partner.api.chain.tester.disable_auto_mine_transactions()
    try:
        accepted = post(partner, "/v1/partner/items/dispense", c.hospital, {"item_ids": ids})
        assert accepted.status_code == 202, accepted.text
        body = accepted.json()
        assert body["code"] == "transaction_pending"
        assert body["status_url"] == f"/v1/partner/transactions/{body['tx_hash']}"
        pending = _status(partner, body["status_url"], c.hospital)
        assert pending.status_code == 200, pending.text
        assert pending.json()["status"] == "pending"
        # Another member learns nothing about it.
        stranger = _status(partner, body["status_url"], c.hospital2)
        assert stranger.status_code == 404
        assert stranger.json()["code"] == "transaction_not_found"
        partner.api.chain.tester.mine_blocks(1)
    finally:
        partner.api.chain.tester.enable_auto_mine_transactions()
    mined = _status(partner, body["status_url"], c.hospital).json()
    assert mined["status"] == "mined" and mined["block_number"] > 0
    assert [e["name"] for e in mined["events"]] == ["ItemsDispensed"]
    assert c.hospital.item(bytes.fromhex(ids[0][2:])).status.name == "DISPENSED"


def test_a_custody_order_waits_for_the_members_pending_one_and_says_so(slow: PartnerEnv) -> None:
    c = slow.api.consortium
    slow.api.chain.tester.enable_auto_mine_transactions()
    ids = commission(slow, "PD02", "PD03")
    slow.api.chain.tester.disable_auto_mine_transactions()

    def ship(units: list[str]) -> Any:
        body = {"receiver": c.distributor.address, "item_ids": units}
        return post(slow, "/v1/partner/shipments", c.manufacturer, body)

    first = ship(ids[:1])
    assert first.status_code == 202, first.text
    # The next order must be signed after the first is mined (its order nonce): refused
    # with a 409 that says why, never signed with the same nonce.
    second = ship(ids[1:])
    assert second.status_code == 409, second.text
    assert second.json()["code"] == "earlier_transaction_pending"
    slow.api.chain.tester.mine_blocks(1)
    third = ship(ids[1:])
    assert third.status_code == 202, third.text
    slow.api.chain.tester.mine_blocks(1)
    done = _status(slow, third.json()["status_url"], c.manufacturer).json()
    assert done["status"] == "mined"
    assert [e["name"] for e in done["events"]] == ["ShipmentSent"]


def test_the_loser_of_a_race_for_one_unit_fails_with_the_ledgers_error(slow: PartnerEnv) -> None:
    c = slow.api.consortium
    slow.api.chain.tester.enable_auto_mine_transactions()
    ids = commission(slow, "PD04")
    deliver(slow, c.manufacturer, c.hospital, ids)
    slow.api.chain.tester.disable_auto_mine_transactions()
    # The regulator quarantines the unit and the hospital dispenses it in the same block:
    # both pass their dry runs (neither is mined yet); the quarantine comes first.
    c.regulator.receipt_timeout = 0.1
    with pytest.raises(TransactionPending):
        c.regulator.quarantine([bytes.fromhex(ids[0][2:])])
    sent = post(slow, "/v1/partner/items/dispense", c.hospital, {"item_ids": ids})
    assert sent.status_code == 202, sent.text
    slow.api.chain.tester.mine_blocks(1)
    lost = _status(slow, sent.json()["status_url"], c.hospital).json()
    assert lost["status"] == "failed"
    assert lost["error"]["code"] == "ItemsWrongStatus"
    assert lost["error"]["status"] == 409
    assert lost["error"]["arguments"]["id"] == ids[0]


def test_an_unknown_transaction_hash_is_404(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    url = "/v1/partner/transactions/0x" + "ab" * 32
    answer = _status(partner, url, c.hospital)
    assert answer.status_code == 404 and answer.json()["code"] == "transaction_not_found"
    assert _status(partner, "/v1/partner/transactions/0x12", c.hospital).status_code == 422


def test_a_relayed_order_is_visible_to_the_member_that_signed_it(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    ids = commission(partner, "PD05")
    deadline = partner.api.chain.now() + 3600
    order, signature = c.manufacturer.sign_ship(
        c.distributor.address, [bytes.fromhex(i[2:]) for i in ids], deadline=deadline
    )
    body = {
        "receiver": c.distributor.address,
        "item_ids": ids,
        "nonce": order.nonce,
        "deadline": deadline,
        "signature": "0x" + signature.hex(),
    }
    sent = post(partner, "/v1/partner/shipments", c.manufacturer, body)
    assert sent.status_code == 201, sent.text
    url = f"/v1/partner/transactions/{sent.json()['tx_hash']}"
    assert _status(partner, url, c.manufacturer).json()["status"] == "mined"
    assert _status(partner, url, c.hospital2).status_code == 404
