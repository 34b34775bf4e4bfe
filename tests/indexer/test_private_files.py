"""SQLite databases (the index and the API's own store) are readable by their owner only,
whatever the process's umask."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from medledger.domain.store import ApiStore
from medledger.indexer.db import make_engine


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.usefixtures("loose_umask")
def test_a_new_index_database_and_its_wal_are_0600_in_a_0700_directory(tmp_path: Path) -> None:
    path = tmp_path / "index" / "partner.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert _mode(Path(f"{path}-wal")) == 0o600
        assert _mode(Path(f"{path}-shm")) == 0o600
    engine.dispose()
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700


@pytest.mark.usefixtures("loose_umask")
def test_an_api_store_made_world_readable_before_is_narrowed(tmp_path: Path) -> None:
    path = tmp_path / "api.db"
    path.touch(mode=0o644)
    Path(f"{path}-wal").touch(mode=0o644)
    store = ApiStore(f"sqlite:///{path}")
    try:
        assert _mode(path) == 0o600
        assert _mode(Path(f"{path}-wal")) == 0o600
    finally:
        store.dispose()
