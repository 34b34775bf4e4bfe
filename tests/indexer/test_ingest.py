"""Ingest from real chains: the projection equals the contract's own view of every item."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import text

from medledger.indexer.source import Web3LogSource
from medledger.sdk.ledger import Ledger
from tests.indexer.conftest import (
    ANVIL_KEY,
    ROOT,
    AnvilRun,
    DevRun,
    cli_env,
    connect,
    index_all,
    medledger_bin,
)


def _projected(db_url: str) -> dict[bytes, tuple[str, int, bytes | None]]:
    with connect(db_url) as conn:
        rows = conn.execute(
            text(
                "SELECT i.item_key, o.address, i.status, p.item_key FROM items i "
                "JOIN organisations o ON o.id = i.holder_id "
                "LEFT JOIN items p ON p.id = i.parent_id"
            )
        ).all()
    return {bytes(k): (a, s, None if p is None else bytes(p)) for k, a, s, p in rows}


def _contract_view(ledger: Ledger, keys) -> dict[bytes, tuple[str, int, bytes | None]]:
    out = {}
    for key in keys:
        state = ledger.item(key)
        out[key] = (state.holder, int(state.status), state.parent_id)
    return out


def _assert_matches_contract(db_url: str, ledger: Ledger, run) -> None:
    projected = _projected(db_url)
    keys = [k for ids in run.plan.units.values() for k in ids] + run.plan.containers
    assert set(projected) == set(keys)
    assert projected == _contract_view(ledger, keys)


def test_items_indexed_from_eth_tester_match_the_contract_view(devchain_run: DevRun, db_url):
    source = Web3LogSource(devchain_run.chain.w3)
    assert index_all(db_url, source, devchain_run.run.deployment, batch_blocks=7) > 0
    _assert_matches_contract(db_url, devchain_run.run.backend.admin, devchain_run.run)


def test_items_indexed_from_anvil_match_the_contract_view(anvil_run: AnvilRun, db_url):
    source = Web3LogSource.from_url(anvil_run.url)
    assert index_all(db_url, source, anvil_run.run.deployment, batch_blocks=25) > 0
    _assert_matches_contract(db_url, anvil_run.run.backend.admin, anvil_run.run)


def test_the_cli_follows_anvil_and_a_second_cli_on_the_same_database_refuses(
    anvil_run: AnvilRun, tmp_path
):
    deployment = tmp_path / "deployment.json"
    anvil_run.run.deployment.save(deployment)
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    args = [medledger_bin(), "indexer", "--rpc", anvil_run.url, "--deployment", str(deployment)]
    args += ["--db", db]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None
        assert first.stdout.readline().startswith("indexing ")
        assert first.stdout.readline().startswith("indexed blocks ")
        second = subprocess.run([*args, "--once"], capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert "another indexer is writing" in second.stdout
    finally:
        first.terminate()
        first.communicate(timeout=30)
    assert first.returncode == 0
    with connect(db) as conn:
        units = conn.exec_driver_sql("SELECT COUNT(*) FROM items WHERE NOT is_container").scalar()
    assert units == sum(len(ids) for ids in anvil_run.run.plan.units.values())


def test_the_cli_names_a_missing_deployment_file(tmp_path):
    result = subprocess.run(
        [
            medledger_bin(),
            "indexer",
            "--rpc",
            "http://127.0.0.1:1",
            "--deployment",
            str(tmp_path / "nope.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "nope.json does not exist" in result.stdout


def test_the_cli_names_an_unreachable_chain(anvil_run: AnvilRun, tmp_path):
    deployment = tmp_path / "deployment.json"
    anvil_run.run.deployment.save(deployment)
    result = subprocess.run(
        [medledger_bin(), "indexer", "--rpc", "http://127.0.0.1:9", "--deployment",
         str(deployment), "--db", f"sqlite:///{tmp_path / 'x.db'}", "--once"],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "cannot reach the chain at http://127.0.0.1:9" in result.stdout


def test_the_generator_cli_plays_on_anvil_and_the_indexer_cli_projects_it(
    anvil_run: AnvilRun, tmp_path
):
    deployment = tmp_path / "generated.json"
    played = subprocess.run(
        [sys.executable, "-m", "medledger.ops.bench.supply_chain", "--rpc", anvil_run.url,
         "--key", ANVIL_KEY, "--deployment-out", str(deployment), "--units", "8", "--lots", "1"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=cli_env(),
    )  # fmt: skip
    assert played.returncode == 0, played.stderr
    assert "played 12 units in 2 lots" in played.stdout  # 8 + a reserve case of 4
    db = f"sqlite:///{tmp_path / 'gen.db'}"
    indexed = subprocess.run(
        [medledger_bin(), "indexer", "--rpc", anvil_run.url, "--deployment", str(deployment),
         "--db", db, "--once"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert indexed.returncode == 0, indexed.stdout + indexed.stderr
    assert indexed.stdout.strip().endswith("synced")
    with connect(db) as conn:
        units = conn.exec_driver_sql("SELECT COUNT(*) FROM items WHERE NOT is_container").scalar()
    assert units == 12
