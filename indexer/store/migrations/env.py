"""Alembic environment of the API's database and the EPCIS capture log: runs on the
connection `indexer.store.engine.migrate_store` hands over (with the branch's version
table), or from the command line:
alembic -c indexer/store/alembic.ini -x db=URL -x version_table=api_store_version
upgrade api_store@head"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from medledger.indexer.store.tables import metadata

config = context.config


def _run(connection: Connection, version_table: str) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=version_table,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection, config.attributes["version_table"])
else:
    args = context.get_x_argument(as_dictionary=True)
    if not args.get("db") or not args.get("version_table"):
        raise SystemExit("give the database as: alembic -x db=URL -x version_table=NAME ...")
    with create_engine(args["db"]).connect() as conn:
        _run(conn, args["version_table"])
        conn.commit()
