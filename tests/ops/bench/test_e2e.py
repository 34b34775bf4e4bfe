"""`medledger bench e2e` at its tiniest: the real stack (our node, follower, indexers,
APIs), two 3-unit pallets through their whole life over HTTP. Checks that the workload
completes and the figures are consistent, not the speed."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from medledger.cli import app
from medledger.ops.bench.e2e import TINY, bench_e2e


def test_the_tiniest_e2e_run_completes_every_lifecycle() -> None:
    lines: list[str] = []
    result = bench_e2e(TINY, echo=lines.append)
    assert json.loads(lines[-1]) == result
    assert result["suite"] == "e2e"
    figures = result["figures"]
    assert figures["pallets"] == TINY.pallets
    assert figures["units"] == TINY.pallets * TINY.units_per_pallet
    # Two freshness samples per pallet: commissioned → genuine, dispensed → dispensed.
    assert figures["freshness_samples"] == 2 * TINY.pallets
    assert 0 < figures["freshness_p50_ms"] <= figures["freshness_p99_ms"]
    assert figures["lifecycles_per_s"] > 0
    for process in ("sequencer", "follower", "indexer", "api", "bench-client"):
        assert figures[f"rss_mb_{process}"] > 0, process
        assert figures[f"cpu_percent_{process}"] >= 0, process
    # The sequencer executed every write: it spent CPU on each unit, which bounds the ceiling.
    assert figures["cpu_ms_per_unit_sequencer"] > 0
    bound = 1000 / figures["cpu_ms_per_unit_sequencer"]
    assert 0 < figures["ceiling_lifecycles_per_s"] <= bound * 1.001 + 0.1  # rounding


def test_bench_e2e_refuses_an_unknown_chain() -> None:
    result = CliRunner().invoke(app, ["bench", "e2e", "--chain", "besu"])
    assert result.exit_code == 2
    assert "--chain must be node or anvil, not 'besu'" in result.output
