"""Sealed records: structured GSP records (acceptance, recall notices, adverse events,
returns, service ...) encrypted per party, with the salted commitment the chain carries.

Revision ID: api_store_0003
Revises: api_store_0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "api_store_0003"
down_revision = "api_store_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_records",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("author", sa.String(42), nullable=False),
        sa.Column("subject_id", sa.LargeBinary(), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("commitment", sa.LargeBinary(), nullable=False, unique=True),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("anchored_tx", sa.String(66), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_api_records_kind", "api_records", ["kind"])
    op.create_index("ix_api_records_author", "api_records", ["author"])
    op.create_index("ix_api_records_subject_id", "api_records", ["subject_id"])
    op.create_table(
        "api_record_keys",
        sa.Column("record_id", sa.String(32), primary_key=True),
        sa.Column("party", sa.String(42), primary_key=True),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_api_record_keys_party", "api_record_keys", ["party"])


def downgrade() -> None:
    op.drop_index("ix_api_record_keys_party", table_name="api_record_keys")
    op.drop_table("api_record_keys")
    op.drop_index("ix_api_records_subject_id", table_name="api_records")
    op.drop_index("ix_api_records_author", table_name="api_records")
    op.drop_index("ix_api_records_kind", table_name="api_records")
    op.drop_table("api_records")
