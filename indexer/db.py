"""Database plumbing: engines tuned per backend, Alembic upgrades, and the dialect-neutral
SQL helper the writer uses for `executemany`/COPY.

SQLite files are private: `private_sqlite_file` creates a database 0600 in a 0700
directory (SQLite gives its -wal and -shm files the database's mode) and narrows one a
wider umask made before."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event

from medledger.indexer.config import sqlite_path

__all__ = ["Sql", "make_engine", "migrate", "private_sqlite_file"]

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, *, writer: bool = False) -> Engine:
    """An engine for `url`; SQLite files run in WAL mode with a large page cache.

    `writer=True` is for the indexer: on SQLite its transactions take the write lock up front
    (`BEGIN IMMEDIATE`, waiting up to the busy timeout), because a deferred transaction that
    reads and then writes is refused at once if another connection (the API logging a scan)
    wrote in between.
    """
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            private_sqlite_file(path)
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, open transactions (below), so DDL and reads are
            # inside them too: a kill -9 mid-migration must roll the whole step back.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a kill -9 never loses a commit; power loss may lose the
            # last ones, but the cursor goes back with them, so exactly-once still holds.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA cache_size=-262144")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()

        begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql(begin)

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url, pool_pre_ping=True)


def private_sqlite_file(path: Path) -> None:
    """Make the SQLite database `path` readable by its owner only: its directory is made
    0700 if missing, the file is created 0600, and an existing file (and its -wal and
    -shm) loses any group or other permission."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    except OSError:
        return  # not ours to create (read-only place): SQLite reports what it cannot open
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = name.stat().st_mode
            if mode & 0o077:
                name.chmod(mode & 0o700)
        except OSError:  # missing, or owned by someone else
            continue


def migrate(engine: Engine) -> None:
    """`alembic upgrade head`: the migrations, not the models, are the schema's truth."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Sql:
    """Runs `?`-placeholder SQL on either backend through the raw DB-API cursor."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.is_pg = conn.dialect.name == "postgresql"

    def _q(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.is_pg else sql

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.conn.exec_driver_sql(self._q(sql), tuple(params)).first()
        return None if row is None else row[0]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.conn.exec_driver_sql(self._q(sql), tuple(params))]

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(self.conn.exec_driver_sql(self._q(sql), tuple(params)).rowcount)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.conn.exec_driver_sql(self._q(sql), list(rows))

    def bulk_insert(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Append rows: COPY on PostgreSQL, executemany on SQLite."""
        if self.is_pg:
            raw = self.conn.connection.driver_connection
            with raw.cursor() as cur:  # type: ignore[union-attr]
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            return
        marks = ", ".join("?" for _ in columns)
        data = list(rows)
        if data:
            self.conn.exec_driver_sql(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                data,
            )
