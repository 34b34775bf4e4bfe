"""The API store's tables are created safely when threads of one process, or several
processes (API workers), race to create the same tables, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, create_engine, inspect

from domain.store import create_tables, store_with
from tests.api import db_urls
from tests.api.conftest import ApiEnv

RACERS = 4


def _tables() -> MetaData:
    tables = MetaData()
    for n in range(8):  # several tables widen the window between the check and the CREATE
        Table(f"race_{n}", tables, Column("id", Integer, primary_key=True))
    return tables


url = db_urls.url


def _create_in_process(url: str, barrier: Any, results: Any) -> None:
    engine = create_engine(url)
    barrier.wait()
    try:
        create_tables(_tables(), engine)
        results.put("ok")
    except Exception as exc:  # reported to the test, which names it
        results.put(repr(exc))
    finally:
        engine.dispose()


def test_processes_racing_to_create_the_same_tables_all_succeed(url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(RACERS), context.Queue()
    racers = [
        context.Process(target=_create_in_process, args=(url, barrier, results))
        for _ in range(RACERS)
    ]
    for racer in racers:
        racer.start()
    outcomes = [results.get(timeout=120) for _ in racers]
    for racer in racers:
        racer.join(30)
    assert outcomes == ["ok"] * RACERS
    engine = create_engine(url)
    assert {f"race_{n}" for n in range(8)} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_threads_racing_for_a_feature_store_all_get_it(api: ApiEnv) -> None:
    tables, barrier, failures = _tables(), threading.Barrier(RACERS), []

    def race() -> None:
        barrier.wait()
        try:
            store_with(api.services, tables)
        except Exception as exc:  # collected for the assertion
            failures.append(exc)

    threads = [threading.Thread(target=race) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    engine = store_with(api.services, tables)
    assert {f"race_{n}" for n in range(8)} <= set(inspect(engine).get_table_names())
