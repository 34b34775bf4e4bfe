"""The Alembic migrations are the schema: they must build exactly what the models say."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import medledger.indexer.models  # noqa: F401
from medledger.indexer.config import Settings
from medledger.indexer.db import make_engine, migrate
from medledger.indexer.errors import ConfigError


def test_upgrading_to_head_builds_exactly_the_models_schema(db_url):
    engine = make_engine(db_url)
    try:
        migrate(engine)
        migrate(engine)  # idempotent: a restart finds the schema current
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, SQLModel.metadata)
            version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    finally:
        engine.dispose()
    assert diff == []
    assert version == "0008_events"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://x/y", "unsupported database URL 'mysql://x/y'"),
        ("sqlite://", "SQLite database must be a file"),
    ],
)
def test_settings_name_an_unusable_database_url(url, message):
    with pytest.raises(ConfigError, match=message):
        Settings(url)


def test_settings_refuse_an_empty_batch():
    with pytest.raises(ConfigError, match="batch_blocks must be >= 1, not 0"):
        Settings("sqlite:///x.db", batch_blocks=0)
