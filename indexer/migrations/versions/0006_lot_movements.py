"""Custody by quantity, history: every quantity of a lot-tracked lot that moved (the lot
trace's quantity movements).

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
        "lot_movements",
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("lot_index", sa.Integer(), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("shipment_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index", "lot_index", "kind"),
    )
    op.create_index(
        "ix_lot_movements_lot",
        "lot_movements",
        ["lot_index", "block_number", "log_index"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_lot_movements_lot", table_name="lot_movements")
    op.drop_table("lot_movements")
