"""`medledger bench indexer` and `medledger bench trace`: ingest throughput and trace query
latency on a generated national supply chain, fed as a synthetic log stream through the
indexer's own decode-and-write path.

Each suite prints human-readable lines, then a JSON object `{"suite": ..., "figures": ...}`
as its last line.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from medledger.indexer.config import Settings
from medledger.indexer.db import make_engine
from medledger.indexer.decode import LogDecoder
from medledger.indexer.follower import Indexer
from medledger.indexer.queries import container_contents, lot_trace, recall_scope, unit_history
from medledger.indexer.queries.bench import (
    database_bytes,
    is_indexed,
    item_keys_of,
    largest_recall,
    last_event_id,
    last_item_id,
    lot_keys,
    nonempty_containers,
    throwaway_database,
)
from medledger.ops.bench.supply_chain import GeneratorConfig, SyntheticChain, generate_synthetic
from medledger.sdk.deploy import Deployment

__all__ = ["bench_indexer", "bench_trace", "dataset_config"]

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BATCH_BLOCKS = 200
LOGS_PER_BLOCK = 50


def dataset_config(*, quick: bool) -> GeneratorConfig:
    """Full: ~10M item-events (1M units, a 10,000-unit recalled lot). Quick: ~0.3M."""
    if quick:
        return GeneratorConfig(
            distributors=20, hospitals=100, lots=200, units=30_000, big_lot_units=3_000,
            reserve_cases=20,
        )  # fmt: skip
    return GeneratorConfig(big_lot_units=10_000, reserve_cases=50)


def _generate(
    cfg: GeneratorConfig, echo: Callable[[str], None]
) -> tuple[SyntheticChain, Deployment]:
    started = time.perf_counter()
    chain, deployment, _plan = generate_synthetic(cfg, logs_per_block=LOGS_PER_BLOCK)
    logs = sum(len(logs) for _, logs in chain.blocks)
    echo(
        f"generated {cfg.units:,} units in {cfg.lots:,} lots: {chain.head():,} blocks, "
        f"{logs:,} logs in {time.perf_counter() - started:.1f} s"
    )
    return chain, deployment


def _ingest(
    db_url: str, chain: SyntheticChain, deployment: Deployment, decoder: LogDecoder
) -> tuple[int, float]:
    settings = Settings(db_url, batch_blocks=BATCH_BLOCKS)
    with Indexer(settings, chain, deployment, decoder=decoder) as indexer:
        started = time.perf_counter()
        events = indexer.catch_up()
        return events, time.perf_counter() - started


def _sqlite_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def bench_indexer(
    *,
    quick: bool,
    pg_admin: str,
    echo: Callable[[str], None],
    config: GeneratorConfig | None = None,
) -> dict[str, Any]:
    """Ingest the dataset into SQLite and PostgreSQL; item-events/s and bytes per event."""
    cfg = config or dataset_config(quick=quick)
    chain, deployment = _generate(cfg, echo)
    decoder = LogDecoder()
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="medledger-bench-") as tmp:
        path = Path(tmp) / "index.db"
        events, seconds = _ingest(f"sqlite:///{path}", chain, deployment, decoder)
        size = _sqlite_bytes(path)
        echo(f"sqlite:     {events:,} item-events in {seconds:.1f} s = {events / seconds:,.0f}/s")
        figures.update(
            events=events,
            sqlite_events_per_s=round(events / seconds),
            bytes_per_event=round(size / events, 1),
        )
    with throwaway_database(pg_admin) as pg_url:
        if pg_url is None:
            echo(f"postgresql: not reachable at {pg_admin}; skipped")
            figures.update(postgres_events_per_s=None, postgres_bytes_per_event=None)
        else:
            events, seconds = _ingest(pg_url, chain, deployment, decoder)
            engine = make_engine(pg_url)
            with engine.connect() as conn:
                size = database_bytes(conn)
            engine.dispose()
            echo(
                f"postgresql: {events:,} item-events in {seconds:.1f} s = {events / seconds:,.0f}/s"
            )
            figures.update(
                postgres_events_per_s=round(events / seconds),
                postgres_bytes_per_event=round(size / events, 1),
            )
    echo(f"database size: {figures['bytes_per_event']} bytes per item-event (SQLite)")
    return {"suite": "indexer", "figures": figures}


def _percentiles(name: str, samples: list[float], echo: Callable[[str], None]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    p50, p99 = cuts[49] * 1000, cuts[98] * 1000
    echo(f"{name:<20} n={len(samples):>5}  p50 {p50:7.3f} ms  p99 {p99:7.3f} ms")
    return {f"{name}_p50_ms": round(p50, 3), f"{name}_p99_ms": round(p99, 3)}


def _timed(
    conn: Connection, fn: Callable[[Connection, Any], object], args: list[Any]
) -> list[float]:
    for arg in args:  # one untimed pass: a serving database has its hot pages cached
        fn(conn, arg)
    out = []
    for arg in args:
        started = time.perf_counter()
        fn(conn, arg)
        out.append(time.perf_counter() - started)
    return out


def bench_trace(
    *,
    quick: bool,
    db_url: str | None,
    echo: Callable[[str], None],
    samples: int = 1000,
    config: GeneratorConfig | None = None,
) -> dict[str, Any]:
    """Build the dataset (or reuse `db_url` if already indexed) and time the trace queries."""
    cfg = config or dataset_config(quick=quick)
    with tempfile.TemporaryDirectory(prefix="medledger-bench-") as tmp:
        url = db_url or f"sqlite:///{Path(tmp) / 'trace.db'}"
        engine = make_engine(url)
        with engine.connect() as conn:
            existing = is_indexed(conn)
        if not existing:
            chain, deployment = _generate(cfg, echo)
            events, seconds = _ingest(url, chain, deployment, LogDecoder())
            echo(f"indexed {events:,} item-events in {seconds:.1f} s")
            del chain
        rng = random.Random(5)
        with engine.connect() as conn:
            events = last_event_id(conn)
            max_item = last_item_id(conn)
            units = item_keys_of(conn, [rng.randint(1, max_item) for _ in range(samples)])
            lots = lot_keys(conn)
            big = largest_recall(conn)
            containers = nonempty_containers(conn)
            echo(
                f"{events:,} item-events; recall {big.recall_id} covers {big.units:,} units; "
                f"{len(containers):,} non-empty containers"
            )
            figures: dict[str, Any] = {"events": events}
            figures.update(_percentiles("unit_history", _timed(conn, unit_history, units), echo))
            lot_sample = [rng.choice(lots) for _ in range(min(samples, 500))]
            figures.update(_percentiles("lot_trace", _timed(conn, lot_trace, lot_sample), echo))
            recalls = [big.recall_id] * min(samples, 200)
            figures.update(_percentiles("recall_scope", _timed(conn, recall_scope, recalls), echo))
            boxes = [rng.choice(containers) for _ in range(min(samples, 500))]
            figures.update(
                _percentiles("container_contents", _timed(conn, container_contents, boxes), echo)
            )
            figures["recall_scope_units"] = big.units
        engine.dispose()
    return {"suite": "trace", "figures": figures}


def print_result(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


def default_pg_admin() -> str:
    return os.environ.get("MEDLEDGER_BENCH_PG", PG_ADMIN)
