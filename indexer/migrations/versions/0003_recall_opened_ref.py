"""Keep the chain reference (transaction hash, log index) of each recall's opening, so the
verification API cites it without asking the chain.

Recalls indexed before this revision keep NULL references until the database is rebuilt.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recalls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opened_tx_hash", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("opened_log_index", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recalls", schema=None) as batch_op:
        batch_op.drop_column("opened_log_index")
        batch_op.drop_column("opened_tx_hash")
