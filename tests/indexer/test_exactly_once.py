"""Exactly once: kill -9 at random moments, synthetic reorgs, one writer per database.

The crash test forks the indexer into a child process (after the test process has paid for
the imports) and SIGKILLs it: the same death as `kill -9` of `medledger indexer`, twenty
times in CI without twenty interpreter start-ups."""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

from medledger.indexer.config import Settings
from medledger.indexer.digest import table_digests
from medledger.indexer.errors import LockedError, ReorgTooDeepError
from medledger.indexer.follower import Indexer
from medledger.ops.bench.supply_chain import GeneratorConfig, SyntheticChain, generate_synthetic
from tests.indexer.conftest import connect, index_all

KILLS = 20 if os.environ.get("CI") == "true" else 6
CRASH_CONFIG = GeneratorConfig.small(units=3000, lots=12, units_per_case=6, seed=11)
BATCH_BLOCKS = 6


def _digests(db_url: str) -> dict[str, str]:
    with connect(db_url) as conn:
        return table_digests(conn)


def _no_duplicate_log_keys(db_url: str) -> None:
    with connect(db_url) as conn:
        dupes = conn.exec_driver_sql(
            "SELECT block_hash, log_index, COUNT(*) FROM processed_logs "
            "GROUP BY block_hash, log_index HAVING COUNT(*) > 1"
        ).all()
        per_item = conn.exec_driver_sql(
            "SELECT item_id, block_number, log_index, COUNT(*) FROM item_events "
            "GROUP BY item_id, block_number, log_index HAVING COUNT(*) > 1"
        ).all()
    assert dupes == []
    assert per_item == []


def _fork_indexer(db_url: str, chain, deployment) -> tuple[int, int]:
    """Fork a child process that runs the indexer over `chain`; it writes b"s" to the
    returned pipe once it holds the lock and the schema is up, and b"d" when caught up."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own engine, lock and connections
        code = 1
        try:
            os.close(read)
            settings = Settings(db_url, batch_blocks=BATCH_BLOCKS)
            with Indexer(settings, chain, deployment) as indexer:
                os.write(write, b"s")
                indexer.catch_up()
            os.write(write, b"d")
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    return pid, read


def test_an_index_killed_at_random_moments_equals_a_clean_reindex(db_url, tmp_path):
    chain, deployment, _ = generate_synthetic(CRASH_CONFIG, logs_per_block=4)
    clean = f"sqlite:///{tmp_path / 'clean.db'}"
    with Indexer(Settings(clean, batch_blocks=BATCH_BLOCKS), chain, deployment) as indexer:
        started = time.monotonic()
        indexer.catch_up()
        ingest_seconds = time.monotonic() - started
    # Kill after a random share of a full ingest's time: on average the kills together
    # let about a third of the ingest through, so every kill lands mid-ingest even when
    # the machine's load shifts between the timed run and the children.
    budget = 0.7 * ingest_seconds / KILLS
    rng = random.Random(4)
    for kill in range(KILLS):
        pid, pipe = _fork_indexer(db_url, chain, deployment)
        with os.fdopen(pipe, "rb") as signals:
            assert signals.read(1) == b"s", "the indexer child did not start"
            time.sleep(rng.uniform(0.0, budget))
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
        if not os.WIFSIGNALED(status):
            pytest.fail(f"ingest finished before kill {kill + 1}; make the chain longer")
    pid, pipe = _fork_indexer(db_url, chain, deployment)
    with os.fdopen(pipe, "rb") as signals:
        assert signals.read() == b"sd"
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    _no_duplicate_log_keys(db_url)
    assert _digests(db_url) == _digests(clean)


def test_a_synthetic_reorg_rewinds_to_the_common_ancestor_leaving_no_orphans(
    db_url, tmp_path, synthetic
):
    chain, deployment = synthetic
    head = chain.head()
    fork = chain.fork(head // 2, keep=head * 3 // 4)
    settings = Settings(db_url, batch_blocks=7)
    with Indexer(settings, chain, deployment) as indexer:
        indexer.catch_up()
        indexer.source = fork
        result = indexer.sync_once()
        assert result is not None and result.rewound_to is not None
        assert result.rewound_to <= head // 2
        indexer.catch_up()
    clean = f"sqlite:///{tmp_path / 'fork.db'}"
    index_all(clean, fork, deployment, batch_blocks=1000)
    assert _digests(db_url) == _digests(clean)
    fork_hashes = {ref.hash for ref, _ in fork.blocks}
    with connect(db_url) as conn:
        stored = [
            bytes(r[0]) for r in conn.exec_driver_sql("SELECT block_hash FROM processed_logs")
        ]
        stored += [bytes(r[0]) for r in conn.exec_driver_sql("SELECT hash FROM blocks")]
        orphans = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM item_events e LEFT JOIN items i ON i.id = e.item_id "
            "WHERE i.id IS NULL"
        ).scalar()
        beyond = conn.exec_driver_sql(
            f"SELECT COUNT(*) FROM item_events WHERE block_number > {head * 3 // 4}"
        ).scalar()
    assert set(stored) <= fork_hashes
    assert orphans == 0
    assert beyond == 0


def test_a_second_indexer_on_the_same_database_refuses_to_start(db_url, synthetic):
    chain, deployment = synthetic
    with Indexer(Settings(db_url), chain, deployment):
        with pytest.raises(LockedError, match="another indexer"):
            with Indexer(Settings(db_url), chain, deployment):
                pass
    with Indexer(Settings(db_url), chain, deployment) as again:  # released on exit
        again.catch_up()


def test_a_reorg_deeper_than_the_undo_history_stops_with_a_clear_error(db_url, synthetic):
    chain, deployment = synthetic
    head = chain.head()
    with Indexer(Settings(db_url, batch_blocks=5, undo_blocks=3), chain, deployment) as indexer:
        indexer.catch_up()
        before = indexer.cursor()
        indexer.source = chain.fork(2, keep=head)
        with pytest.raises(ReorgTooDeepError, match="deeper than the 3 blocks of undo history"):
            indexer.sync_once()
        assert indexer.cursor() == before  # nothing was rewound half-way


def test_a_chain_that_became_shorter_than_the_cursor_is_rewound_to_its_head(
    db_url, tmp_path, synthetic
):
    chain, deployment = synthetic
    head = chain.head()
    shorter = SyntheticChain(chain.blocks[: head * 2 // 3])
    with Indexer(Settings(db_url, batch_blocks=4), chain, deployment) as indexer:
        indexer.catch_up()
        indexer.source = shorter
        result = indexer.sync_once()
        assert result is not None and result.rewound_to is not None
        assert result.rewound_to <= shorter.head()
        indexer.catch_up()
    clean = f"sqlite:///{tmp_path / 'short.db'}"
    index_all(clean, shorter, deployment, batch_blocks=1000)
    assert _digests(db_url) == _digests(clean)
