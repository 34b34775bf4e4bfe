"""The indexer keeps writing while another connection (the API logging scans) writes too."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from medledger.indexer.db import make_engine, migrate


def test_a_writer_transaction_that_reads_first_waits_for_another_writer_instead_of_failing(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ix.db'}"
    writer = make_engine(url, writer=True)
    other = make_engine(url)
    migrate(writer)
    with writer.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (0)"))

    errors: list[BaseException] = []
    entered, release = threading.Event(), threading.Event()

    def indexer_like() -> None:
        try:
            with writer.begin() as conn:
                entered.set()
                # Read, let the other connection commit a write, then write.
                conn.execute(text("SELECT n FROM t")).all()
                release.wait(5)
                conn.execute(text("UPDATE t SET n = n + 1"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=indexer_like)
    thread.start()
    assert entered.wait(5)
    # The scan logger waits for the indexer's transaction (it holds the write lock).
    logger = threading.Thread(target=lambda: _log_scan(other))
    logger.start()
    # Without the up-front write lock the logger would commit during this pause, and the
    # indexer's write after its read would then fail with "database is locked".
    logger.join(0.5)
    release.set()
    thread.join(10)
    logger.join(10)
    assert errors == []
    with other.connect() as conn:
        assert conn.execute(text("SELECT n FROM t")).scalar_one() == 11
    writer.dispose()
    other.dispose()


def _log_scan(engine: object) -> None:
    from sqlalchemy.engine import Engine

    assert isinstance(engine, Engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE t SET n = n + 10"))
