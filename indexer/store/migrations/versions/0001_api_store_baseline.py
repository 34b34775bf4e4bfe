"""The API's database as `create_all` made it before migrations (baseline).

Adopts a database made before then: its tables were created on first use, so it may hold
any of them; only the missing ones are created.

Revision ID: api_store_0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "api_store_0001"
down_revision = None
branch_labels = ("api_store",)
depends_on = None


def _create(name: str, *columns: sa.Column[object], indexed: tuple[str, ...] = ()) -> None:
    if sa.inspect(op.get_bind()).has_table(name):
        return
    op.create_table(name, *columns)
    for column in indexed:
        op.create_index(op.f(f"ix_{name}_{column}"), name, [column])


def upgrade() -> None:
    _create(
        "api_challenges",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("message", sa.String(2000), nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("used", sa.Boolean, nullable=False),
    )
    _create(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("secret_sha256", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
        indexed=("address",),
    )
    _create(
        "api_custodial_keys",
        sa.Column("address", sa.String(42), primary_key=True),
        sa.Column("nonce", sa.LargeBinary, nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    _create(
        "api_documents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("uploader", sa.String(42), nullable=False),
        sa.Column("counterparty", sa.String(42), nullable=True),
        sa.Column("subject_id", sa.LargeBinary, nullable=False),
        sa.Column("kind", sa.Integer, nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("salt", sa.LargeBinary, nullable=False),
        sa.Column("document_hash", sa.LargeBinary, nullable=False, unique=True),
        sa.Column("nonce", sa.LargeBinary, nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("anchored_tx", sa.String(66), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        indexed=("uploader",),
    )
    _create(
        "api_document_keys",
        sa.Column("document_id", sa.String(32), primary_key=True),
        sa.Column("party", sa.String(42), primary_key=True),
        sa.Column("nonce", sa.LargeBinary, nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
        indexed=("party",),
    )
    _create(
        "api_recall_acknowledgements",
        sa.Column("recall_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("holder", sa.String(42), primary_key=True),
        sa.Column("acknowledged_at", sa.BigInteger, nullable=False),
        sa.Column("acknowledged_by", sa.String(64), nullable=False),
        sa.Column("note", sa.String(2000), nullable=False),
    )
    _create(
        "api_oversight_cursors",
        sa.Column("feed", sa.String(32), primary_key=True),
        sa.Column("position", sa.String(80), nullable=False),
    )
    _create(
        "portal_users",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        indexed=("address",),
    )
    _create(
        "portal_revoked_sessions",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    _create(
        "portal_jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(42), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("done", sa.Integer, nullable=False),
        sa.Column("problem", sa.Text),
        sa.Column("heartbeat_at", sa.BigInteger, nullable=False),
        sa.Column("finished_at", sa.BigInteger),
        indexed=("owner",),
    )


def downgrade() -> None:
    raise NotImplementedError("the baseline is not undone: these tables hold keys and documents")
