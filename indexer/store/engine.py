"""Opening the API's database and the EPCIS capture log: an engine per database, brought
to the newest schema by Alembic when the process opens it (`migrate_store`).

Each database keeps its own version table (`api_store_version`, `epcis_capture_version`),
so either may share a database with the indexer's, whose Alembic keeps `alembic_version`.
A database made before these migrations (tables created on first use) is adopted in
place: the baseline creates only the tables it lacks. Processes that start at once (API
workers) upgrade one at a time: PostgreSQL under an advisory lock, SQLite under its write
lock (`BEGIN IMMEDIATE`); the later ones then find the schema current.

A SQLite store is a private file: 0600 (and its -wal and -shm), in a 0700 directory
(`indexer.db.private_sqlite_file`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from medledger.indexer.config import sqlite_path
from medledger.indexer.db import make_engine, private_sqlite_file

__all__ = ["API_STORE", "CAPTURE_LOG", "ApiStore", "Branch", "migrate_store", "open_engine"]

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True, slots=True)
class Branch:
    """One database's line of migrations: its Alembic branch, its version table and the
    PostgreSQL advisory lock its upgrades take."""

    label: str
    version_table: str
    lock_key: int


API_STORE = Branch("api_store", "api_store_version", 0x4D4C_4150)
CAPTURE_LOG = Branch("capture_log", "epcis_capture_version", 0x4D4C_4543)


def migrate_store(url: str, branch: Branch) -> None:
    """`alembic upgrade <branch>@head` on the database at `url`, one process at a time.

    On a new SQLite file, processes racing to switch it to WAL may be told "database is
    locked" at once (the journal-mode switch does not wait out the busy timeout); that
    attempt changed nothing, so it is made again after a short pause."""
    for attempt in range(_SQLITE_LOCKED_ATTEMPTS):
        try:
            _migrate_once(url, branch)
            return
        except OperationalError as exc:
            locked = url.startswith("sqlite") and "database is locked" in str(exc)
            if not locked or attempt == _SQLITE_LOCKED_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


_SQLITE_LOCKED_ATTEMPTS = 20


def _migrate_once(url: str, branch: Branch) -> None:
    engine = make_engine(url, writer=True)  # SQLite: BEGIN IMMEDIATE takes the write lock
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": branch.lock_key})
            cfg.attributes["connection"] = conn
            cfg.attributes["version_table"] = branch.version_table
            command.upgrade(cfg, f"{branch.label}@head")
    finally:
        engine.dispose()


def open_engine(url: str, branch: Branch) -> Engine:
    """An engine on `url`, its schema migrated first (a private file for SQLite)."""
    path = sqlite_path(url)
    if path is not None:
        private_sqlite_file(path)
    migrate_store(url, branch)
    engine = create_engine(url)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    with engine.connect():  # the first connection: a bad URL fails here, not at a request
        pass
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: object) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class ApiStore:
    """The engine over the API's database; opening it migrates the schema."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = open_engine(url, API_STORE)

    def dispose(self) -> None:
        self.engine.dispose()
