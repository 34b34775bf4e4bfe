"""EPCIS 2.0 named queries and the state of their subscriptions.

Revision ID: api_store_epcisq
Revises: api_store_broker
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "api_store_epcisq"
down_revision = "api_store_broker"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_epcis_queries",
        sa.Column("owner", sa.String(42), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "api_epcis_query_subscriptions",
        sa.Column("subscription_id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(42), nullable=False),
        sa.Column("query_name", sa.String(64), nullable=False),
        sa.Column("stream", sa.Boolean(), nullable=False),
        sa.Column("schedule", sa.Text(), nullable=True),
        sa.Column("report_if_empty", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", sa.BigInteger(), nullable=False),
    )
    op.create_index(
        "ix_api_epcis_query_subscriptions_owner", "api_epcis_query_subscriptions", ["owner"]
    )


def downgrade() -> None:
    op.drop_index("ix_api_epcis_query_subscriptions_owner", "api_epcis_query_subscriptions")
    op.drop_table("api_epcis_query_subscriptions")
    op.drop_table("api_epcis_queries")
