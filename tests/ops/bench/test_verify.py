"""`medledger bench verify` in its tiniest configuration: real uvicorn, real HTTP load, a real
node, indexer and API for freshness; checks the JSON shape, not the speed."""

from __future__ import annotations

import json

from medledger.ops.bench.verify import BenchSizes, bench_verify


def test_the_tiniest_verify_benchmark_prints_positive_figures_as_its_last_line() -> None:
    lines: list[str] = []
    result = bench_verify(
        BenchSizes(quick=True, tiny=True, seconds=1, connections=2, codes=40, freshness_samples=2),
        echo=lines.append,
    )
    assert json.loads(lines[-1]) == result
    assert result["suite"] == "verify"
    figures = result["figures"]
    for name in (
        "units",
        "verify_req_per_s",
        "verify_p50_ms",
        "verify_p99_ms",
        "freshness_p50_ms",
        "freshness_p99_ms",
        "verify_api_cpu_ms_per_request",
    ):
        assert figures[name] > 0, name
    assert figures["verify_p50_ms"] <= figures["verify_p99_ms"]
    assert figures["freshness_p50_ms"] <= figures["freshness_p99_ms"]
    assert figures["workers"] in (1, 2)
    assert figures["load_average_before"] >= 0
