"""Recall notice versions (`RecallUpdated`) and holders' signed acknowledgements
(`RecallAcknowledged`), each a salted commitment of a sealed record in the API store.

Revision ID: 0007_recalls
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_recalls"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recall_notice_versions",
        sa.Column("recall_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("commitment", sa.LargeBinary(), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "recall_ack_events",
        sa.Column("block_number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("log_index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("recall_id", sa.Integer(), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=False),
        sa.Column("commitment", sa.LargeBinary(), nullable=False),
        sa.Column("tx_hash", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_recall_ack_events_recall_id", "recall_ack_events", ["recall_id"])


def downgrade() -> None:
    op.drop_index("ix_recall_ack_events_recall_id", table_name="recall_ack_events")
    op.drop_table("recall_ack_events")
    op.drop_table("recall_notice_versions")
