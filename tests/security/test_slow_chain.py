"""Attack replay of finding 2's second half (issue 13): while the chain is slow, an honest
write was told "500 TimeExhausted" after 120 s and was mined afterwards, so the client
believed it failed when it did not.

A slow chain is made for real: the sequencer's block maker is stopped (SIGSTOP) while its
RPC front keeps admitting transactions, so the write is accepted and not mined. The API
must answer 202 `transaction_pending` with the transaction's status URL, the status must
say `pending` until the block maker runs again (SIGCONT) and `mined` afterwards, with the
shipment really on the ledger.
"""

from __future__ import annotations

import os
import secrets
import signal
import time

import httpx

from medledger.sdk.gs1 import lot_key
from tests.security.conftest import Target

MAKER, DISTRIBUTOR, STENT_LOT = "chengrui", "ruitong", "CR2601A"


def _status(client: httpx.Client, url: str, headers: dict[str, str]) -> dict[str, object]:
    answer = client.get(url, headers=headers)
    assert answer.status_code == 200, answer.text
    found: dict[str, object] = answer.json()
    return found


def test_a_write_the_node_accepted_but_did_not_mine_is_a_202_then_mined(target: Target) -> None:
    headers = target.bearer(MAKER)
    gtin = next(p["gtin"] for p in target.seed.products if STENT_LOT in p["lots"])
    serial = "SLOW" + secrets.token_hex(3).upper()
    body = {"lot_key": "0x" + lot_key(gtin, STENT_LOT).hex(), "serials": [serial]}
    with httpx.Client(base_url=target.api, timeout=120) as client:
        made = client.post("/v1/partner/commission", json=body, headers=headers)
        assert made.status_code == 201, made.text
        (unit,) = made.json()["item_ids"]
        receiver = target.organisation(DISTRIBUTOR)["address"]

        block_maker = target.stack.supervisor.pid("sequencer")
        os.kill(block_maker, signal.SIGSTOP)
        try:
            shipped = client.post(
                "/v1/partner/shipments",
                json={"receiver": receiver, "item_ids": [unit]},
                headers=headers,
            )
            assert shipped.status_code == 202, shipped.text
            problem = shipped.json()
            assert problem["code"] == "transaction_pending"
            status_url = problem["status_url"]
            assert status_url == f"/v1/partner/transactions/{problem['tx_hash']}"
            assert _status(client, status_url, headers)["status"] == "pending"
        finally:
            os.kill(block_maker, signal.SIGCONT)

        deadline = time.monotonic() + 60
        found = _status(client, status_url, headers)
        while found["status"] == "pending" and time.monotonic() < deadline:
            time.sleep(0.5)
            found = _status(client, status_url, headers)
        assert found["status"] == "mined", found
        events = found["events"]
        assert isinstance(events, list)
        assert "ShipmentSent" in {e["name"] for e in events}, events
        # Once mined, the transaction is the maker's to look at, not another member's.
        stranger = client.get(status_url, headers=target.bearer("kangze"))
        assert stranger.status_code == 404, stranger.text
        assert stranger.json()["code"] == "transaction_not_found"
        # Sending it again is refused by the ledger: the first one did happen.
        again = client.post(
            "/v1/partner/shipments",
            json={"receiver": receiver, "item_ids": [unit]},
            headers=headers,
        )
        assert again.status_code == 409, again.text
    target.assert_still_serving()
