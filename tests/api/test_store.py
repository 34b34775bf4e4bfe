"""The API store's schema is migrated safely when threads of one process, or several
processes (API workers), open the same database at once, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

from sqlalchemy import create_engine, inspect

from medledger.domain.store import API_STORE, ApiStore, api_store
from medledger.indexer.store.tables import API_TABLES
from tests.api import db_urls
from tests.api.conftest import ApiEnv

RACERS = 4

url = db_urls.url


def _open_in_process(url: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        ApiStore(url).dispose()
        results.put("ok")
    except Exception as exc:  # reported to the test, which names it
        results.put(repr(exc))


def test_processes_racing_to_open_the_same_store_all_succeed(url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(RACERS), context.Queue()
    racers = [
        context.Process(target=_open_in_process, args=(url, barrier, results))
        for _ in range(RACERS)
    ]
    for racer in racers:
        racer.start()
    outcomes = [results.get(timeout=120) for _ in racers]
    for racer in racers:
        racer.join(30)
    assert outcomes == ["ok"] * RACERS
    engine = create_engine(url)
    assert {t.name for t in API_TABLES} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_threads_racing_for_the_store_all_get_the_same_one(api: ApiEnv) -> None:
    opened = api.services.components.pop(API_STORE)
    if opened is not None:
        opened.dispose()
    barrier, stores, failures = threading.Barrier(RACERS), [], []

    def race() -> None:
        barrier.wait()
        try:
            stores.append(api_store(api.services))
        except Exception as exc:  # collected for the assertion
            failures.append(exc)

    threads = [threading.Thread(target=race) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert len(stores) == RACERS and len({id(s) for s in stores}) == 1
    names = set(inspect(stores[0].engine).get_table_names())
    assert {t.name for t in API_TABLES} <= names
