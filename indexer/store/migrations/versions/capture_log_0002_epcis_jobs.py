"""EPCIS 2.0 capture jobs: one row per accepted capture document, its state and its
per-event report.

Revision ID: capture_log_epcis
Revises: capture_log_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "capture_log_epcis"
down_revision = "capture_log_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "epcis_capture_jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("member", sa.String(42), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("heartbeat_at", sa.BigInteger, nullable=False),
        sa.Column("finished_at", sa.BigInteger, nullable=True),
        sa.Column("report", sa.Text, nullable=True),
    )
    op.create_index("ix_epcis_capture_jobs_member", "epcis_capture_jobs", ["member"])


def downgrade() -> None:
    op.drop_index("ix_epcis_capture_jobs_member", table_name="epcis_capture_jobs")
    op.drop_table("epcis_capture_jobs")
