"""The Idempotency-Key rows (`indexer.store.idempotency`) on SQLite and PostgreSQL: one
claimant per key, a dead request's lease taken over only by the same request, an expired
answer by any, only the owner completes or drops, pruning by expiry."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine

from medledger.indexer.store import idempotency as rows
from medledger.indexer.store.engine import ApiStore
from tests.api.db_urls import url

__all__ = ["url"]

A, B = b"a" * 32, b"b" * 32
NOW = 1_000_000


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    store = ApiStore(url)
    try:
        yield store.engine
    finally:
        store.dispose()


def _claim(engine: Engine, owner: str, fingerprint: bytes = A, *, now: int = NOW,
           key: str = "k") -> rows.KeyedRequest | None:  # fmt: skip
    return rows.claim(
        engine, principal="member:0xabc", key=key, fingerprint=fingerprint, owner=owner,
        now=now, lease_until=now + 1000, expires_at=now + 10_000,
    )  # fmt: skip


def _complete(engine: Engine, owner: str, status: int = 201, key: str = "k") -> bool:
    return rows.complete(
        engine, principal="member:0xabc", key=key, owner=owner, status=status,
        nonce=b"n" * 12, answer=b"sealed",
    )  # fmt: skip


def test_one_claimant_per_key_and_only_it_completes(engine: Engine) -> None:
    assert _claim(engine, "first") is None
    held = _claim(engine, "second")
    assert held is not None and held.status is None and held.lease_until == NOW + 1000
    assert not _complete(engine, "second")
    assert _complete(engine, "first")
    done = _claim(engine, "third")
    assert done is not None and (done.status, done.answer) == (201, b"sealed")
    assert not _complete(engine, "first")  # once only
    other = _claim(engine, "x", key="other")  # another key of the same principal is free
    assert other is None


def test_a_dead_lease_is_taken_over_by_the_same_request_only(engine: Engine) -> None:
    assert _claim(engine, "dead") is None
    later = NOW + 5000
    refused = _claim(engine, "other body", B, now=later)
    assert refused is not None and refused.fingerprint == A
    assert _claim(engine, "retry", now=later) is None
    assert not _complete(engine, "dead")  # the dead request lost its key
    assert _complete(engine, "retry")


def test_dropping_frees_the_key_and_an_expired_answer_is_replaced_or_pruned(
    engine: Engine,
) -> None:
    assert _claim(engine, "failed") is None
    rows.drop(engine, principal="member:0xabc", key="k", owner="failed")
    assert _claim(engine, "again", B) is None
    assert _complete(engine, "again")
    assert _claim(engine, "new", A, now=NOW + 20_000) is None  # expired: any request
    assert _claim(engine, "x", key="k2") is None
    assert rows.prune(engine, now=NOW + 15_000) == 1  # k2 expired; k was renewed
    assert rows.prune(engine, now=NOW + 40_000) == 1


def test_of_many_concurrent_claims_exactly_one_wins(engine: Engine) -> None:
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: _claim(engine, f"owner{i}"), range(16)))
    assert sum(r is None for r in results) == 1
