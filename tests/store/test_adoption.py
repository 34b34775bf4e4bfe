"""The API's database and the EPCIS capture log under Alembic: a fresh database gets
exactly the schema `create_all` made before migrations existed, and a database made by
that older code (`fixtures/`, see `make_pre_migration_db.py`) is adopted in place, every
row still readable through the typed queries, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, Table, create_engine, inspect, select, text

from medledger.domain.custodial_keys import derive_key, unseal
from medledger.indexer.store import api_keys, documents, portal_users, recalls, sessions
from medledger.indexer.store.captures import CaptureStore
from medledger.indexer.store.custodial_keys import sealed_key
from medledger.indexer.store.engine import API_STORE, CAPTURE_LOG, MIGRATIONS, ApiStore
from medledger.indexer.store.tables import API_TABLES, CAPTURE_TABLES, metadata
from tests.api import db_urls

FIXTURES = Path(__file__).parent / "fixtures"
# Columns migrations added to tables the pre-migration code already made.
LATER_COLUMNS = {"portal_users": ("role", "created_by")}
MASTER = bytes.fromhex("11" * 32)
MEMBER_KEY = bytes.fromhex("22" * 32)
ADDRESS = "0x1563915e194D8CfBA1943570603F7606A3115508"  # of MEMBER_KEY

url = db_urls.url


def _head(label: str) -> str:
    """The newest revision of branch `label` among the migration scripts."""
    heads = ScriptDirectory(str(MIGRATIONS)).get_revisions(f"{label}@head")
    assert len(heads) == 1 and heads[0] is not None
    return heads[0].revision


def _differences(engine: Engine, tables: tuple[object, ...]) -> list[object]:
    names = {t.name for t in tables}  # type: ignore[attr-defined]
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _parent: kind != "table" or name in names,
                "include_object": lambda obj, name, kind, *_: kind != "table" or name in names,
            },
        )
        return list(compare_metadata(context, metadata))


def test_a_fresh_database_gets_the_schema_of_the_models(url: str) -> None:
    store = ApiStore(url)
    assert _differences(store.engine, API_TABLES) == []
    tables = set(inspect(store.engine).get_table_names())
    assert API_STORE.version_table in tables and "epcis_captures" not in tables
    store.dispose()
    captures = CaptureStore(create_engine(url))
    assert _differences(captures.engine, API_TABLES + CAPTURE_TABLES) == []
    captures.engine.dispose()


def test_opening_again_changes_nothing(url: str) -> None:
    ApiStore(url).dispose()
    store = ApiStore(url)
    with store.engine.connect() as conn:
        versions = conn.execute(text(f"SELECT version_num FROM {API_STORE.version_table}")).all()
    assert [v[0] for v in versions] == [_head(API_STORE.label)]
    store.dispose()


def _assert_rows_readable(engine: Engine) -> None:
    secret = api_keys.key_secret(engine, "k1")
    assert secret is not None and secret.address == ADDRESS and secret.revoked_at is None
    assert secret.secret_sha256 == hashlib.sha256(b"secret").digest()
    assert [k.label for k in api_keys.keys_of(engine, ADDRESS)] == ["erp"]
    user = portal_users.user_row(engine, "clerk")
    assert user is not None and (user.address, user.display_name) == (ADDRESS, "Clerk")
    assert user.password_hash.startswith("scrypt$")
    sealed = sealed_key(engine, ADDRESS)
    assert sealed is not None
    custody = derive_key(MASTER, "custody")
    assert unseal(custody, sealed.nonce, sealed.ciphertext, aad=ADDRESS.encode()) == MEMBER_KEY
    found = documents.shared_document(engine, "doc1", [ADDRESS.lower()])
    assert found is not None
    doc, wrapped = found
    assert (doc.document.filename, doc.document.kind) == ("invoice.pdf", 2)
    assert doc.document.anchored_tx == "0x" + "ab" * 32
    kek = derive_key(MASTER, f"document-kek/{wrapped.party}")
    dek = unseal(kek, wrapped.nonce, wrapped.wrapped_key, aad=f"doc1/{wrapped.party}".encode())
    assert unseal(dek, doc.nonce, doc.ciphertext, aad=b"doc1") == b"invoice 42"
    shared = documents.documents_shared_with(engine, [ADDRESS.lower()], limit=10, offset=0)
    assert [d.id for d in shared] == ["doc1"]
    ack = recalls.acknowledgements_of(engine, 7)[ADDRESS]
    assert (ack.acknowledged_at, ack.acknowledged_by) == (1_700_000_200, "clerk")
    assert ack.note == "received"
    assert sessions.is_token_revoked(engine, "t" * 32)


def test_a_database_made_before_migrations_is_adopted_in_place_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "api.db"
    shutil.copy(FIXTURES / "pre_migration_api.db", path)
    store = ApiStore(f"sqlite:///{path}")
    _assert_rows_readable(store.engine)
    assert _differences(store.engine, API_TABLES) == []  # the tables it lacked are there
    store.dispose()
    epcis = tmp_path / "epcis.db"
    shutil.copy(FIXTURES / "pre_migration_epcis.db", epcis)
    captures = CaptureStore(create_engine(f"sqlite:///{epcis}"))
    state = captures.states(["e1"])["e1"]
    assert state.captured and state.tx_hashes == ("0x01",)
    with captures.engine.connect() as conn:
        assert conn.execute(text(f"SELECT * FROM {CAPTURE_LOG.version_table}")).all()
    captures.engine.dispose()


def test_a_database_made_before_migrations_is_adopted_in_place(url: str) -> None:
    """The same rows, in the tables the old code made on `url` (its `create_all`: the
    tables as the fixture has them), then the store opened there."""
    source = create_engine(f"sqlite:///{FIXTURES / 'pre_migration_api.db'}")
    old = MetaData()
    old.reflect(source)
    target = create_engine(url)
    present = [t for t in API_TABLES if t.name in old.tables]
    legacy = MetaData()  # the models less the columns later migrations added
    for table in present:
        added = LATER_COLUMNS.get(table.name, ())
        Table(table.name, legacy, *[c._copy() for c in table.columns if c.name not in added])
    legacy.create_all(target)
    with source.connect() as src, target.begin() as dst:
        for table in present:
            rows = [dict(r._mapping) for r in src.execute(select(old.tables[table.name]))]
            if rows:
                dst.execute(legacy.tables[table.name].insert(), rows)
    source.dispose()
    target.dispose()
    store = ApiStore(url)
    _assert_rows_readable(store.engine)
    assert _differences(store.engine, API_TABLES) == []
    store.dispose()
