"""The indexer benchmarks run end to end on a tiny dataset and report their figures."""

from __future__ import annotations

import json

from medledger.ops.bench.indexer import bench_indexer, bench_trace, print_result
from medledger.ops.bench.supply_chain import GeneratorConfig

TINY = GeneratorConfig.small(units=400, lots=4, big_lot_units=200, reserve_cases=3)


def test_bench_indexer_reports_throughput_and_size_per_event(capsys):
    lines: list[str] = []
    result = bench_indexer(
        quick=True, pg_admin="postgresql://postgres@127.0.0.1:5432/postgres",
        echo=lines.append, config=TINY,
    )  # fmt: skip
    figures = result["figures"]
    assert result["suite"] == "indexer"
    assert figures["events"] > 4000
    assert figures["sqlite_events_per_s"] > 0
    assert 20 < figures["bytes_per_event"] < 5000
    assert "postgres_events_per_s" in figures
    print_result(result)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == result


def test_bench_trace_reports_p99_for_each_hot_query():
    lines: list[str] = []
    result = bench_trace(quick=True, db_url=None, echo=lines.append, samples=50, config=TINY)
    figures = result["figures"]
    assert result["suite"] == "trace"
    for name in ("unit_history", "lot_trace", "recall_scope", "container_contents"):
        assert 0 < figures[f"{name}_p50_ms"] <= figures[f"{name}_p99_ms"]
    assert figures["recall_scope_units"] == 200
    assert figures["events"] > 4000
