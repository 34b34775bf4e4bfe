"""The ERP stand-in against the real API served over HTTP (uvicorn, with the delivery
worker its lifespan starts): it subscribes with its own API key, gets each inbound
shipment by a signed webhook, receives it through the API, and prints JSON lines."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from medledger.app import create_app
from medledger.ops.demo.erp import start_erp
from medledger.sdk.model import ShipmentStatus
from tests.api.partner_env import PartnerEnv, partner

__all__ = ["partner"]  # the fixture, imported for pytest


@pytest.fixture
def served(partner: PartnerEnv) -> Iterator[str]:
    services = partner.api.services
    services.settings = services.settings.model_copy(
        update={"webhook_allow_private_http": True, "webhook_poll_seconds": 0.05}
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(services), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


def test_the_erp_receives_inbound_shipments_it_is_told_of(partner: PartnerEnv, served: str) -> None:
    c = partner.api.consortium
    key = partner.api.client.post(
        "/v1/auth/api-keys", json={"label": "erp"}, headers=partner.login(c.distributor)
    ).json()["key"]
    lines: list[str] = []
    erp = start_erp(served, key, "127.0.0.1", 0, echo=lines.append)
    try:
        ids = c.manufacturer.commission(c.lot_key, ["ERP1", "ERP2"]).value
        shipments = [c.manufacturer.ship(c.distributor.address, [i]).value for i in ids]
        partner.api.sync()
        deadline = time.monotonic() + 60
        while len(erp.received) < 2:
            assert time.monotonic() < deadline, lines
            time.sleep(0.1)
            partner.api.sync()
    finally:
        erp.close()
    assert sorted(erp.received) == shipments
    for shipment in shipments:
        assert c.distributor.shipment(shipment).status == ShipmentStatus.RECEIVED
    printed = [json.loads(line) for line in lines]
    assert printed[0]["subscribed"].startswith("sub_")
    events = [p for p in printed if "event" in p]
    assert [e["shipment_id"] for e in events] == shipments
    assert all(e["type"] == "shipment.inbound" for e in events)
    listing = partner.api.client.get(
        "/v1/partner/subscriptions", headers=partner.login(c.distributor)
    ).json()
    assert listing == {"subscriptions": []}  # unsubscribed when stopped
