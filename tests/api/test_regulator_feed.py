"""The oversight feed: public scans and recall acknowledgements made on the partner API
reach the regulator's own deployment (its own index database and API store), pulled as
the regulator member, and show in the regulator's routes (issue 13, finding 9).

Two real apps over one chain: the partner app of the `partner` fixture, and a regulator
app with its own indexer database and data directory. The pull talks to the partner app
through its TestClient (an httpx client), the seam it talks HTTP through in production.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import update

from medledger.app import create_app
from medledger.domain.auth import create_api_key
from medledger.domain.oversight_feed import load_cursor
from medledger.domain.oversight_pull import FeedError, OversightPull, Pulled, Pulling
from medledger.domain.services import Components, Services
from medledger.domain.store import api_store
from medledger.domain.verifier import verifier
from medledger.indexer.config import Settings as IndexerSettings
from medledger.indexer.db import make_engine
from medledger.indexer.follower import Indexer
from medledger.indexer.source import Web3LogSource
from medledger.indexer.store.tables import oversight_cursors as cursors
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv
from tests.api.regulator_mode import AUTH, TOKEN

partner = partner_env.partner


@dataclasses.dataclass
class RegulatorSide:
    services: Services
    client: TestClient
    db_url: str
    partner: PartnerEnv

    def sync(self) -> None:
        api = self.partner.api
        source = Web3LogSource(api.chain.w3)
        settings = IndexerSettings(self.db_url, batch_blocks=500)
        with Indexer(settings, source, api.consortium.deployment) as indexer:
            indexer.catch_up()

    puller: OversightPull | None = None

    def pull(self, *, restart: bool = False) -> Pulled:
        """One pull from the partner app (small pages, so that paging is exercised); with
        `restart`, by a new puller, as after the regulator API restarted."""
        if self.puller is None or restart:
            account = self.partner.api.consortium.regulator.account
            self.puller = OversightPull(
                self.services, self.partner.api.client, account, page_size=2
            )
        return self.puller.pull()


@pytest.fixture
def regulator(partner: PartnerEnv, tmp_path: Path) -> RegulatorSide:
    """The regulator's deployment: its own index database, API store and master key."""
    db_url = f"sqlite:///{tmp_path / 'regulator-index.db'}"
    api = partner.api
    settings = api.services.settings.model_copy(
        update={
            "regulator": True,
            "regulator_api_token": SecretStr(TOKEN),
            "db_url": db_url,
            "data_dir": tmp_path / "regulator-api",
            "api_db_url": None,  # its own API store ...
            "master_key": SecretStr("5e" * 32),  # ... sealed under its own master key
        }
    )
    services = dataclasses.replace(
        api.services, settings=settings, engine=make_engine(db_url), components=Components()
    )
    services.regulator_account = api.consortium.regulator.account
    side = RegulatorSide(services, TestClient(create_app(services)), db_url, partner)
    side.sync()
    return side


def _scan(partner: PartnerEnv, serial: str, headers: dict[str, str], **place: Any) -> str:
    c = partner.api.consortium
    code = f"(01){c.gtin}(10){c.lot}(21){serial}"
    r = partner.api.client.post(
        "/v1/verify", json={"code": code, "location": place}, headers=headers
    )
    assert r.status_code == 200, r.text
    return str(r.json()["code"]["item_id"])


def _hospital_key(partner: PartnerEnv) -> dict[str, str]:
    address = partner.api.consortium.hospital.address
    return {"X-API-Key": create_api_key(partner.api.services, address, label="ward")[1]}


def _recall_with_holder(partner: PartnerEnv) -> int:
    c = partner.api.consortium
    units = c.manufacturer.commission(c.lot_key, ["R1", "R2"]).value
    c.distributor.receive(
        c.manufacturer.ship(c.distributor.address, units).value, temp_min=50, temp_max=80
    )
    recall: int = c.regulator.recall_lot(c.lot_key, level=1, reason_hash=keccak(text="r")).value
    partner.api.sync()
    return recall


def test_scans_and_acknowledgements_made_on_the_partner_side_reach_the_regulator(
    partner: PartnerEnv, regulator: RegulatorSide
) -> None:
    c = partner.api.consortium
    c.manufacturer.commission(c.lot_key, ["F1"])
    recall_id = _recall_with_holder(partner)
    unit = _scan(partner, "F1", _hospital_key(partner), country="CN", region="31")
    _scan(partner, "F1", {}, country="US")
    _scan(partner, "F1", {})
    verifier(partner.api.services).scans.flush()
    ack = partner.api.client.post(
        f"/v1/partner/recalls/{recall_id}/acknowledgement",
        json={"note": "both units quarantined"},
        headers=partner.login(c.distributor),
    )
    assert ack.status_code == 200, ack.text
    regulator.sync()

    # The acknowledgement is signed on chain: the regulator's own indexer has it; the feed
    # carries only the unsigned ones of before.
    pulled = regulator.pull()
    assert (pulled.scans, pulled.acknowledgements, pulled.records) == (3, 0, 1)  # the ack's note
    assert regulator.pull() == Pulled(scans=0, acknowledgements=0)

    seen = regulator.client.get("/v1/regulator/scans", headers=AUTH).json()["scans"]
    assert [
        (s["location"], s["by_member"], s["scanner"] and s["scanner"]["address"]) for s in seen
    ] == [
        ("", False, None),
        ("US", False, None),
        ("CN-31", True, c.hospital.address),
    ]
    assert {s["item_id"] for s in seen} == {unit}
    progress = regulator.client.get(
        f"/v1/regulator/recalls/{recall_id}/acknowledgements", headers=AUTH
    ).json()
    by_holder = {h["holder"]: h["acknowledgement"] for h in progress["holders"]}
    assert by_holder[c.distributor.address]["acknowledged_by"] == ack.json()["tx_hash"][2:]
    assert by_holder[c.distributor.address]["note"] == ""  # sealed for the manufacturer
    # The member's scan in CN-31, then a scan in the US: the alert the verdict gave.
    alerts = regulator.client.get("/v1/regulator/alerts", headers=AUTH).json()["alerts"]
    assert [a["item_id"] for a in alerts if a["kind"] == "scan_two_places"] == [unit]


def test_the_feed_carries_no_client_address(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    c.manufacturer.commission(c.lot_key, ["F2"])
    partner.api.sync()
    _scan(partner, "F2", {}, lat=31.2345, lon=121.4567)
    verifier(partner.api.services).scans.flush()
    page = partner.api.client.get(
        "/v1/partner/oversight/scans", headers=partner.login(c.regulator)
    ).json()
    (scan,) = page["scans"]
    assert set(scan) == {"id", "item_id", "scanned_at", "location", "by_member", "scanner"}
    assert scan["location"] == "geo:31.2,121.5" and "testclient" not in str(page)


def test_only_the_regulator_member_reads_the_feed(
    partner: PartnerEnv, regulator: RegulatorSide
) -> None:
    client = partner.api.client
    for path in ("/v1/partner/oversight/scans", "/v1/partner/oversight/acknowledgements"):
        anonymous = client.get(path)
        assert anonymous.status_code == 401, path
        member = client.get(path, headers=partner.login(partner.api.consortium.hospital))
        assert member.status_code == 403 and member.json()["code"] == "regulator_only"
        there = regulator.client.get(path, headers=AUTH)  # not served by the regulator side
        assert there.status_code == 404
    bad = client.get(
        "/v1/partner/oversight/acknowledgements",
        params={"after": "1:2:robert'); DROP TABLE"},
        headers=partner.login(partner.api.consortium.regulator),
    )
    assert bad.status_code == 422


def test_a_pull_whose_cursor_was_lost_writes_no_scan_twice(
    partner: PartnerEnv, regulator: RegulatorSide
) -> None:
    c = partner.api.consortium
    c.manufacturer.commission(c.lot_key, ["F3"])
    partner.api.sync()
    for place in ({"country": "CN"}, {"country": "CN"}, {"country": "DE"}):
        _scan(partner, "F3", {}, **place)
    verifier(partner.api.services).scans.flush()
    assert regulator.pull().scans == 3  # pages of 2 and 1
    last = int(load_cursor(regulator.services, "scans") or 0)
    # As if the process died after writing the last page but before saving its cursor.
    with api_store(regulator.services).engine.begin() as conn:
        conn.execute(
            update(cursors).where(cursors.c.feed == "scans").values(position=str(last - 1))
        )
    assert regulator.pull(restart=True).scans == 0
    _scan(partner, "F3", {}, country="CN")  # the same place again is a new scan
    verifier(partner.api.services).scans.flush()
    assert regulator.pull().scans == 1
    total = regulator.client.get("/v1/regulator/scans", headers=AUTH).json()["scans"]
    assert len(total) == 4


def test_a_pull_refused_by_the_partner_api_says_so(
    partner: PartnerEnv, regulator: RegulatorSide
) -> None:
    hospital = partner.api.consortium.hospital.account  # signs in, but is not the regulator
    pull = OversightPull(regulator.services, partner.api.client, hospital)
    with pytest.raises(FeedError, match="403 regulator_only"):
        pull.pull()


def test_of_two_workers_one_pulls_in_the_background_until_closed(
    partner: PartnerEnv, regulator: RegulatorSide, tmp_path: Path
) -> None:
    c = partner.api.consortium
    c.manufacturer.commission(c.lot_key, ["F4"])
    partner.api.sync()
    _scan(partner, "F4", {}, country="CN")
    verifier(partner.api.services).scans.flush()
    account = c.regulator.account
    lock = tmp_path / "oversight-pull.lock"
    workers = [
        Pulling(
            OversightPull(regulator.services, partner.api.client, account),
            httpx.Client(),
            interval=0.05,
            lock_path=lock,
        )
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 10
        while load_cursor(regulator.services, "scans") is None:
            assert time.monotonic() < deadline, "nothing pulled"
            time.sleep(0.05)
        time.sleep(0.3)  # both had their turns
        scans = regulator.client.get("/v1/regulator/scans", headers=AUTH).json()["scans"]
        assert len(scans) == 1
        assert sum(w.elected for w in workers) == 1
    finally:
        for worker in workers:
            worker.close()


def test_the_regulator_app_pulls_while_it_runs_and_stops_with_it(
    regulator: RegulatorSide,
) -> None:
    services = dataclasses.replace(
        regulator.services,
        settings=regulator.services.settings.model_copy(
            update={"oversight_feed_url": "http://127.0.0.1:9", "oversight_feed_interval": 0.05}
        ),
    )
    started = time.monotonic()
    with TestClient(create_app(services)) as client:  # the partner API is not there
        assert client.get("/v1/regulator/scans", headers=AUTH).status_code == 200
        lock = services.settings.data_dir / "oversight-pull.lock"
        deadline = time.monotonic() + 5
        while not lock.exists():
            assert time.monotonic() < deadline, "the pull never started"
            time.sleep(0.02)
    assert time.monotonic() - started < 20
