"""The partner API's own persistent state, apart from the indexer's schema: sign-in
challenges (single-use nonces), API keys (only a SHA-256 of the secret), custodial member
keys (AES-GCM ciphertext), encrypted documents and their per-party wrapped keys.

The tables (all named `api_*`, so they may share a database with the indexer's) live in
`settings.api_db_url` (default SQLite under `data_dir`) and are created when the store is
first opened by the process (`api_store(services)`); a feature's own tables when it first
asks for them (`store_with`). Creating tables is safe when threads or worker processes race
to do it (`create_tables`). A SQLite store is a private file:
0600 (and its -wal and -shm), in a 0700 directory (`indexer.db.private_sqlite_file`).
"""

from __future__ import annotations

import threading

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    create_engine,
    event,
)
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from domain.services import Services
from indexer.config import sqlite_path
from indexer.db import private_sqlite_file

__all__ = [
    "ApiStore",
    "api_keys",
    "api_store",
    "store_with",
    "challenges",
    "create_tables",
    "custodial_keys",
    "document_keys",
    "documents",
    "metadata",
]

metadata = MetaData()

challenges = Table(
    "api_challenges",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("address", String(42), nullable=False),
    Column("message", String(2000), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used", Boolean, nullable=False, default=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("address", String(42), nullable=False, index=True),
    Column("label", String(200), nullable=False),
    Column("secret_sha256", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
)

custodial_keys = Table(
    "api_custodial_keys",
    metadata,
    Column("address", String(42), primary_key=True),
    Column("nonce", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

documents = Table(
    "api_documents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("uploader", String(42), nullable=False, index=True),
    Column("counterparty", String(42), nullable=True),
    Column("subject_id", LargeBinary, nullable=False),
    Column("kind", Integer, nullable=False),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("salt", LargeBinary, nullable=False),
    Column("document_hash", LargeBinary, nullable=False, unique=True),
    Column("nonce", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("anchored_tx", String(66), nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

document_keys = Table(
    "api_document_keys",
    metadata,
    Column("document_id", String(32), primary_key=True),
    # A member address (lower-case 0x-hex) or the group name "regulator".
    Column("party", String(42), primary_key=True, index=True),
    Column("nonce", LargeBinary, nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
)


class ApiStore:
    """The engine over the API's tables; opening it creates any missing table."""

    def __init__(self, url: str) -> None:
        path = sqlite_path(url)
        if path is not None:
            private_sqlite_file(path)
        self.engine: Engine = create_engine(url)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        create_tables(metadata, self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def api_store(services: Services) -> ApiStore:
    """The process's store, opened (and its tables created) on first use."""
    store = services.extras.get("api_store")
    if store is None:
        # dict.setdefault is atomic, so concurrent first requests share one lock.
        with services.extras.setdefault("api_store_lock", threading.Lock()):
            store = services.extras.get("api_store")
            if store is None:
                settings = services.settings
                url = settings.api_db_url
                if url is None:
                    url = f"sqlite:///{settings.data_dir / 'api.db'}"
                store = ApiStore(url)
                services.extras["api_store"] = store
    assert isinstance(store, ApiStore)
    return store


_CREATE_LOCK = threading.Lock()
# What a database says when another connection created the same table (or its type, on
# PostgreSQL) between our check and our CREATE: SQLite "table ... already exists" is an
# OperationalError; PostgreSQL's DuplicateTable a ProgrammingError, a clash in pg_type a
# UniqueViolation (IntegrityError).
_CREATED_MEANWHILE = (OperationalError, ProgrammingError, IntegrityError)


def create_tables(tables: MetaData, engine: Engine) -> None:
    """Create whichever of `tables` are missing: one thread of this process at a time, and
    when another process created one meanwhile, look again. Each clash means another
    process created at least one more table, so one look per table always suffices."""
    with _CREATE_LOCK:
        for attempt in range(len(tables.tables) + 1):
            try:
                tables.create_all(engine, checkfirst=True)
                return
            except _CREATED_MEANWHILE:
                if attempt == len(tables.tables):
                    raise


def store_with(services: Services, tables: MetaData) -> Engine:
    """The store's engine, with a feature's own `tables` created on first use (features
    outside this module keep their tables in their own MetaData)."""
    engine = api_store(services).engine
    flag = f"api_store_tables_{id(tables)}"
    if not services.extras.get(flag):
        create_tables(tables, engine)
        services.extras[flag] = True
    return engine
