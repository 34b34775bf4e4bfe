"""A data directory made by the previous `medledger up` (commit 83c87ee, before issue 14's
restructuring; `fixtures/make_old_data_dir.sh` made it) is upgraded in place by this one:
started without --reset, everything seeded then still works; `up --reset` seeds afresh."""

from __future__ import annotations

import json
import sqlite3
import tarfile
import time
from datetime import date
from pathlib import Path

import httpx
from alembic.config import Config
from alembic.script import ScriptDirectory

from medledger.indexer.store.engine import API_STORE, CAPTURE_LOG, MIGRATIONS
from tests.ops.test_up import Up, sample_of, signs_in, urls_of

FIXTURE = Path(__file__).parent / "fixtures" / "data-dir-83c87ee.tar.xz"
INDEXER_MIGRATIONS = Path(__file__).resolve().parents[2] / "indexer" / "migrations"


def _heads(location: Path, label: str | None = None) -> set[str]:
    config = Config()
    config.set_main_option("script_location", str(location))
    script = ScriptDirectory.from_config(config)
    if label is None:
        return set(script.get_heads())
    return {r.revision for r in script.get_revisions(f"{label}@head") if r is not None}


def _versions(db: Path, table: str) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute(f"SELECT version_num FROM {table}")}  # noqa: S608


def _read(path: Path) -> str:
    return path.read_text().strip()


def _verdict(api: str, path: str, api_key: str) -> str:
    """`/v1/verify` of a GS1 Digital Link path (as the seed records it), as a machine
    client asks: under an API key."""
    code = "https://id.gs1.org" + path
    answer = httpx.get(
        api + "/v1/verify", params={"code": code}, headers={"X-API-Key": api_key}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    lot = answer.json()["lot"]
    # The seed gave the sample's lot two years (to December 2028): past that it reads
    # "expired", and the fixture is made again with fixtures/make_old_data_dir.sh.
    assert lot["recalled"] or date.fromisoformat(lot["expiry"]) > date.today(), lot
    verdict: str = answer.json()["verdict"]
    return verdict


def test_a_data_directory_of_the_previous_up_is_upgraded_in_place(tmp_path: Path) -> None:
    data = tmp_path / "stack"
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(data, filter="data")
    seed = json.loads((data / "seed.json").read_text())
    passwords = json.loads((data / "secrets" / "demo-sign-ins.json").read_text())
    writes = json.loads((data / "fixture-writes.json").read_text())
    issued = writes["api_key"]
    for db, branch in (("api.db", API_STORE), ("epcis.db", CAPTURE_LOG)):
        with sqlite3.connect(data / "api" / db) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert branch.version_table not in tables, db  # made before the migrations existed

    up = Up(data, tmp_path / "upgraded.out")
    try:
        banner = up.wait_ready()  # `up` waits for both indexers to reach the chain head
        assert "seed:" not in banner  # the old seed is recognised, not done again
        urls = urls_of(banner)
        for name, url in urls.items():
            health = httpx.get(url + "/healthz", timeout=10)
            assert health.status_code == 200, (name, health.text)
        head = httpx.get(urls["sequencer"] + "/healthz").json()["head"]
        assert head > 20  # the old chain, not a new one
        for name in ("indexer", "regulator-indexer"):
            assert httpx.get(urls[name] + "/healthz").json()["block"] >= head, name
        # A seeded unit, verified under the API key the old API issued.
        assert sample_of(banner).endswith(seed["sample_path"])
        assert _verdict(urls["api"], seed["sample_path"], issued["key"]) == "genuine"
        assert _verdict(urls["api"], seed["recalled_path"], issued["key"]) == "recalled"
        # The unit the old EPCIS capture commissioned, and the capture log that remembers it.
        epcis = writes["epcis"]
        assert _verdict(urls["api"], epcis["unit_path"], issued["key"]) == "genuine"
        resent = httpx.post(
            urls["api"] + "/v1/epcis/capture",
            params={"sync": "true"},  # the outcome, not a capture job
            json=epcis["document"],
            headers={"X-API-Key": epcis["api_key"]},
            timeout=60,
        )
        assert resent.status_code == 200, resent.text
        assert (resent.json()["captured"], resent.json()["duplicates"]) == (0, 1), resent.text
        assert resent.json()["events"][0]["event_hash"] == epcis["event_hash"]
        me = httpx.get(urls["api"] + "/v1/auth/me", headers={"X-API-Key": issued["key"]})
        assert me.status_code == 200 and me.json()["address"] == issued["address"], me.text
        # The seeded portal users sign in, on both sides, with their old passwords.
        signs_in(urls["api"], "jiahe", passwords["jiahe"])
        signs_in(urls["regulator-api"], "nmpa", passwords["nmpa"])
        # The document the old API encrypted opens with the old master key.
        document = writes["document"]
        opened = httpx.get(
            urls["api"] + f"/v1/partner/documents/{document['id']}",
            headers={"X-API-Key": issued["key"]},
        )
        assert opened.status_code == 200, opened.text
        assert opened.json()["content_base64"] == document["content_base64"]
        assert opened.json()["anchored_tx"] == document["anchored_tx"]
        # A new write lands on the old chain, and both indexers follow it there.
        again = httpx.post(
            urls["api"] + "/v1/partner/documents",
            json={**{k: opened.json()[k] for k in ("subject_id", "kind", "counterparty")},
                  "filename": "after-upgrade.txt", "content_base64": document["content_base64"]},
            headers={"X-API-Key": issued["key"]},
            timeout=60,
        )  # fmt: skip
        assert again.status_code == 201 and again.json()["anchored_tx"], again.text
        new_head = httpx.get(urls["sequencer"] + "/healthz").json()["head"]
        assert new_head > head
        deadline = time.monotonic() + 60
        for name in ("indexer", "regulator-indexer"):
            while httpx.get(urls[name] + "/healthz").json()["block"] < new_head:
                assert time.monotonic() < deadline, name
                time.sleep(0.2)
        # The regulator's staff token still works, and sees the old acknowledgement.
        ack = writes["recall_ack"]
        staff = {"Authorization": f"Bearer {_read(data / 'secrets' / 'regulator-api-token')}"}
        progress = (
            urls["regulator-api"] + f"/v1/regulator/recalls/{ack['recall_id']}/acknowledgements"
        )
        deadline = time.monotonic() + 60
        while True:  # the regulator's API pulls acknowledgements from the partner API
            answer = httpx.get(progress, headers=staff, timeout=30)
            assert answer.status_code == 200, answer.text
            holder = next(h for h in answer.json()["holders"] if h["holder"] == ack["holder"])
            if holder["acknowledgement"] is not None:
                break
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.5)
        assert holder["acknowledgement"]["note"] == ack["note"]
    finally:
        assert up.stop() in (0, 130)
    api_head = _heads(MIGRATIONS, API_STORE.label)
    for side in ("api", "regulator-api"):
        assert _versions(data / side / "api.db", API_STORE.version_table) == api_head, side
    capture_head = _heads(MIGRATIONS, CAPTURE_LOG.label)
    assert _versions(data / "api" / "epcis.db", CAPTURE_LOG.version_table) == capture_head
    for index in ("partner", "regulator"):
        db = data / "index" / f"{index}.db"
        assert _versions(db, "alembic_version") == _heads(INDEXER_MIGRATIONS), index

    # --reset on the upgraded directory: a fresh chain, seeded with the demo again.
    fresh = Up(data, tmp_path / "reset.out", "--reset")
    try:
        banner = fresh.wait_ready()
        assert "seed: done" in banner
        urls = urls_of(banner)
        sample = httpx.get(
            urls["api"] + "/01/" + sample_of(banner).split("/01/")[1],
            headers={"Accept": "application/json"},
            timeout=30,
        )
        assert sample.json()["verdict"] == "genuine", sample.text
        assert not (data / "fixture-writes.json").exists()
    finally:
        assert fresh.stop() in (0, 130)
