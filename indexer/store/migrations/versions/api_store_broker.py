"""The AMQP publisher's cursor and the portal users' notification read positions.

Revision ID: api_store_broker
Revises: api_store_events
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "api_store_broker"
down_revision = "api_store_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_broker_cursors",
        sa.Column("exchange", sa.String(255), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "portal_notification_reads",
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("portal_notification_reads")
    op.drop_table("api_broker_cursors")
