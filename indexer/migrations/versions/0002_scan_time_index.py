"""Index verification scans by time, for the scan-anomaly sweep.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("verification_scans", schema=None) as batch_op:
        batch_op.create_index("ix_scans_time", ["scanned_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("verification_scans", schema=None) as batch_op:
        batch_op.drop_index("ix_scans_time")
