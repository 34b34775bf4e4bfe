"""Product master records, content-addressed by the keccak256 the chain anchors.

Revision ID: api_store_0002
Revises: api_store_0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "api_store_0002"
down_revision = "api_store_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_master_records",
        sa.Column("master_hash", sa.LargeBinary(), primary_key=True),
        sa.Column("gtin", sa.String(14), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("stored_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_api_master_records_gtin", "api_master_records", ["gtin"])


def downgrade() -> None:
    op.drop_index("ix_api_master_records_gtin", table_name="api_master_records")
    op.drop_table("api_master_records")
