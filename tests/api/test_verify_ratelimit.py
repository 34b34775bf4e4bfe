"""The per-client verification budget: token buckets, and 429 with Retry-After over HTTP."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.ratelimit import TokenBuckets
from tests.api.conftest import ApiEnv

CODE = "(01)09506000134352(21)SN000001"


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_grants_its_burst_then_refills_at_the_rate() -> None:
    clock = _Clock()
    buckets = TokenBuckets(rate_per_minute=6, clock=clock)
    assert [buckets.take("a") for _ in range(6)] == [0] * 6
    assert buckets.take("a") == 10  # one token per 10 s
    assert buckets.take("b") == 0  # another client has its own bucket
    clock.now += 4
    assert buckets.take("a") == 6
    clock.now += 6
    assert buckets.take("a") == 0
    assert buckets.take("a") == 10


def test_idle_clients_are_forgotten_when_the_table_is_full() -> None:
    clock = _Clock()
    buckets = TokenBuckets(rate_per_minute=60, max_clients=3, clock=clock)
    for name in "abc":
        buckets.take(name)
    clock.now += 5
    buckets.take("d")
    assert buckets.take("d") == 0


def test_a_bucket_refuses_a_nonsense_rate() -> None:
    with pytest.raises(ValueError, match="rate_per_minute"):
        TokenBuckets(rate_per_minute=0)


def _limited_client(api: ApiEnv, rate: int) -> TestClient:
    settings = api.services.settings.model_copy(update={"verify_rate_per_minute": rate})
    services = dataclasses.replace(api.services, settings=settings, extras={})
    return TestClient(create_app(services))


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


def test_each_api_key_has_its_own_budget(api: ApiEnv) -> None:
    client = _limited_client(api, 1)
    assert client.get("/v1/verify", params={"code": CODE}).status_code == 200
    assert client.get("/v1/verify", params={"code": CODE}).status_code == 429
    for key in ("app-one", "app-two"):
        headers = {"X-API-Key": key}
        assert client.get("/v1/verify", params={"code": CODE}, headers=headers).status_code == 200
        assert client.get("/v1/verify", params={"code": CODE}, headers=headers).status_code == 429


def test_a_malformed_code_still_costs_a_token(api: ApiEnv) -> None:
    client = _limited_client(api, 2)
    assert client.get("/v1/verify", params={"code": "junk"}).status_code == 400
    assert client.get("/v1/verify", params={"code": "junk"}).status_code == 400
    assert client.get("/v1/verify", params={"code": "junk"}).status_code == 429
