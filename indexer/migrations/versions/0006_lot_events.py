"""Lot events: each lot's quantity in each lot event (commissioned, shipped, received,
rejected, dispensed, quarantined, released, destroyed), the history behind `lot_balances`
that the EPCIS export reads.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lot_events",
        sa.Column("block_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("log_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("lot_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=True),
        sa.Column("shipment_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("block_number", "log_index", "lot_index", "kind"),
    )
    op.create_index(
        "ix_lot_events_lot", "lot_events", ["lot_index", "block_number", "log_index"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_lot_events_lot", table_name="lot_events")
    op.drop_table("lot_events")
