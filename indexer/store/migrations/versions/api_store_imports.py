"""Bulk imports: a job per uploaded file, its per-row problems and its write chunks.

Revision ID: api_store_imports
Revises: api_store_idem
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "api_store_imports"
down_revision = "api_store_idem"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_import_jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(42), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("done_rows", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("heartbeat_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "api_import_errors",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("column", sa.String(40), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("message_zh", sa.Text(), nullable=False),
        sa.Column("message_en", sa.Text(), nullable=False),
        sa.Column("cells", sa.Text(), nullable=False),
    )
    op.create_table(
        "api_import_chunks",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("tx_hash", sa.String(66), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("api_import_chunks")
    op.drop_table("api_import_errors")
    op.drop_table("api_import_jobs")
