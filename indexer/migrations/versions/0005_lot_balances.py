"""Custody by quantity: loose units of lot-tracked lots per organisation, and the contents
of cases (package-level items).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lot_balances",
        sa.Column("lot_index", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.BigInteger(), nullable=False),
        sa.Column("quarantined", sa.BigInteger(), nullable=False),
        sa.Column("in_transit", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("lot_index", "organisation_id"),
    )
    op.create_index(
        "ix_lot_balances_holder", "lot_balances", ["organisation_id", "lot_index"], unique=False
    )
    op.create_table(
        "case_contents",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("package_gtin", sa.String(length=14), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("item_id"),
    )


def downgrade() -> None:
    op.drop_table("case_contents")
    op.drop_index("ix_lot_balances_holder", table_name="lot_balances")
    op.drop_table("lot_balances")
