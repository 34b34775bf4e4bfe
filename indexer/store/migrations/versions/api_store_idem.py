"""The first answers to POSTs sent with an Idempotency-Key (`api_idempotency`).

Revision ID: api_store_idem
Revises: api_store_users
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "api_store_idem"
down_revision = "api_store_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_idempotency",
        sa.Column("principal", sa.String(80), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=False),
        sa.Column("owner", sa.String(32), nullable=False),
        sa.Column("lease_until", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("nonce", sa.LargeBinary(), nullable=True),
        sa.Column("answer", sa.LargeBinary(), nullable=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_api_idempotency_expires_at", "api_idempotency", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_api_idempotency_expires_at", table_name="api_idempotency")
    op.drop_table("api_idempotency")
