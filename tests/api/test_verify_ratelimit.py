"""The per-client verification budget: token buckets shared by every API worker process (one
memory-mapped file), and 429 with Retry-After over HTTP, with one worker and with two."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient

from medledger.app import create_app
from medledger.domain.auth import create_api_key
from medledger.domain.services import Components
from medledger.sdk.gs1 import parse_code
from medledger.web.ratelimit import SharedBuckets
from tests.api.conftest import ApiEnv

CODE = "(01)09506000134352(21)SN000001"
REPO = Path(__file__).resolve().parents[2]


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_grants_its_burst_then_refills_at_the_rate(tmp_path: Path) -> None:
    clock = _Clock()
    buckets = SharedBuckets(tmp_path / "rl", rate_per_minute=6, clock=clock)
    assert [buckets.take("a") for _ in range(6)] == [0] * 6
    assert buckets.take("a") == 10  # one token per 10 s
    assert buckets.take("b") == 0  # another client has its own bucket
    clock.now += 4
    assert buckets.take("a") == 6
    clock.now += 6
    assert buckets.take("a") == 0
    assert buckets.take("a") == 10


def test_two_handles_on_one_file_share_the_buckets(tmp_path: Path) -> None:
    clock = _Clock()
    one = SharedBuckets(tmp_path / "rl", rate_per_minute=4, clock=clock)
    two = SharedBuckets(tmp_path / "rl", rate_per_minute=4, clock=clock)
    assert [one.take("a"), two.take("a"), one.take("a"), two.take("a")] == [0, 0, 0, 0]
    assert one.take("a") > 0 and two.take("a") > 0


def test_a_spending_client_keeps_its_state_among_others(tmp_path: Path) -> None:
    clock = _Clock()
    buckets = SharedBuckets(tmp_path / "rl", rate_per_minute=60, slots=64, clock=clock)
    assert all(buckets.take("a") == 0 for _ in range(60))
    for n in range(40):
        assert buckets.take(f"other {n}") == 0
    assert buckets.take("a") == 1


def test_full_buckets_give_their_slots_to_new_clients(tmp_path: Path) -> None:
    clock = _Clock()
    buckets = SharedBuckets(tmp_path / "rl", rate_per_minute=60, slots=32, clock=clock)
    for n in range(32):
        assert buckets.take(f"early {n}") == 0
    assert buckets.clients() == 32
    clock.now += 5  # everyone's bucket is full again: their slots carry nothing
    for n in range(32):
        assert buckets.take(f"late {n}") == 0
    assert buckets.clients() == 32
    assert buckets.take("early 0") == 0


def test_a_bucket_refuses_a_nonsense_rate(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rate_per_minute"):
        SharedBuckets(tmp_path / "rl", rate_per_minute=0)


def _take_many(path: str, start: Any, results: Any) -> None:
    # One token a minute: nothing refills while the test runs, only the burst is granted.
    buckets = SharedBuckets(Path(path), rate_per_minute=1, burst=300)
    start.wait()
    results.put(sum(1 for _ in range(200) if buckets.take("one client") == 0))


def test_concurrent_processes_never_grant_more_than_the_budget(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(3), context.Queue()
    args = (str(tmp_path / "rl"), start, results)
    workers = [context.Process(target=_take_many, args=args) for _ in range(3)]
    for worker in workers:
        worker.start()
    granted = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert sum(granted) == 300


def _limited_client(api: ApiEnv, rate: int, *, address: str = "testclient") -> TestClient:
    settings = api.services.settings.model_copy(update={"verify_rate_per_minute": rate})
    services = dataclasses.replace(api.services, settings=settings, components=Components())
    return TestClient(create_app(services), client=(address, 50000))


def test_a_client_over_its_budget_gets_a_429_with_retry_after(api: ApiEnv) -> None:
    client = _limited_client(api, 3)
    for _ in range(3):
        assert client.get("/v1/verify", params={"code": CODE}).status_code == 200
    refused = client.post("/v1/verify", json={"code": CODE})
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) == 20
    resolver = client.get("/01/09506000134352/21/SN000001", headers={"Accept": "text/html"})
    assert resolver.status_code == 429


def test_a_members_api_keys_share_one_budget_apart_from_the_address(api: ApiEnv) -> None:
    client = _limited_client(api, 1)
    assert client.get("/v1/verify", params={"code": CODE}).status_code == 200
    assert client.get("/v1/verify", params={"code": CODE}).status_code == 429
    services = client.app.state.services  # type: ignore[attr-defined]
    member = api.consortium.distributor.address
    one, two = (create_api_key(services, member, label=label)[1] for label in ("one", "two"))
    # Looking a key up costs the (empty) address budget: the first use of a key waits.
    looked_up = client.get("/v1/verify", params={"code": CODE}, headers={"X-API-Key": one})
    assert looked_up.status_code == 429
    fresh = _limited_client(api, 1, address="203.0.113.9")  # an address with its budget
    for key, status in ((one, 200), (one, 429), (two, 429)):
        answer = fresh.get("/v1/verify", params={"code": CODE}, headers={"X-API-Key": key})
        assert answer.status_code == status, answer.text
    other = create_api_key(services, api.consortium.hospital.address, label="h")[1]
    answer = fresh.get("/v1/verify", params={"code": CODE}, headers={"X-API-Key": other})
    assert answer.status_code == 200  # another member has its own budget


def test_made_up_api_keys_spend_the_address_budget_then_get_429(api: ApiEnv) -> None:
    client = _limited_client(api, 3)
    for n in range(3):
        key = f"mlk_{n:016x}_forged"
        refused = client.get("/v1/verify", params={"code": CODE}, headers={"X-API-Key": key})
        assert refused.status_code == 401, refused.text
        assert refused.json()["code"] == "invalid_api_key"
    throttled = client.get("/v1/verify", params={"code": CODE}, headers={"X-API-Key": "nope"})
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "rate_limited"
    assert client.get("/v1/verify", params={"code": CODE}).status_code == 429


def test_a_made_up_api_key_gets_no_budget_of_its_own(api: ApiEnv) -> None:
    client = _limited_client(api, 2)
    assert client.get("/v1/verify", params={"code": CODE}).status_code == 200
    for key in ("app-one",):
        refused = client.get("/v1/verify", params={"code": CODE}, headers={"X-API-Key": key})
        assert refused.status_code == 401, refused.text
        assert refused.json()["code"] == "invalid_api_key"
    assert client.get("/v1/verify", params={"code": CODE}).status_code == 429


def test_a_token_given_back_is_granted_again(tmp_path: Path) -> None:
    clock = _Clock()
    buckets = SharedBuckets(tmp_path / "rl", rate_per_minute=1, burst=2, clock=clock)
    assert [buckets.take("a"), buckets.take("a")] == [0, 0]
    assert buckets.take("a") > 0
    buckets.give("a")
    assert buckets.take("a") == 0
    for _ in range(5):
        buckets.give("a")  # never more than the burst
    assert [buckets.take("a"), buckets.take("a")] == [0, 0]
    assert buckets.take("a") > 0


def test_a_malformed_code_still_costs_a_token(api: ApiEnv) -> None:
    client = _limited_client(api, 2)
    assert client.get("/v1/verify", params={"code": "junk"}).status_code == 400
    assert client.get("/v1/verify", params={"code": "junk"}).status_code == 400
    assert client.get("/v1/verify", params={"code": "junk"}).status_code == 429


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_two_api_workers_share_one_budget(api: ApiEnv) -> None:
    s = api.services.settings
    port = _free_port()
    env = dict(os.environ, MEDLEDGER_API_VERIFY_RATE_PER_MINUTE="10")
    args = [sys.executable, "-m", "medledger.cli", "api", "--workers", "2", "--port", str(port)]
    args += ["--db", s.db_url, "--deployment", str(s.deployment_file)]
    args += ["--data-dir", str(s.data_dir), "--no-access-log"]
    proc = subprocess.Popen(args, cwd=REPO, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, "medledger api --workers 2 exited"
                time.sleep(0.1)
        assert len(psutil.Process(proc.pid).children(recursive=True)) >= 2

        def one(_: int) -> httpx.Response:  # a new connection each: the kernel spreads them
            return httpx.get(url + "/v1/verify", params={"code": CODE}, timeout=30)

        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(one, range(40)))
        refills = int((time.monotonic() - started) / 6)  # one token per 6 s at 10 a minute
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) == {200, 429}
    assert 10 <= statuses.count(200) <= 10 + refills, statuses  # two buckets would grant 20
    # Each worker wrote its queued scans when it was stopped: one per verdict given.
    with api.services.engine.connect() as conn:
        logged = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM verification_scans WHERE item_key = ?",
            (parse_code(CODE).item_id,),
        ).scalar()
    assert logged == statuses.count(200)
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.json()["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
