"""Product master data: the serialised flag of a product, its packaging levels and the
anchored versions of its public master record.

Products indexed before this revision read as serialised (the only kind there was).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("serialised", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "package_levels",
        sa.Column("package_gtin", sa.String(14), primary_key=True),
        sa.Column("child_gtin", sa.String(14), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("base_gtin", sa.String(14), nullable=False),
        sa.Column("base_quantity", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_package_levels_base_gtin", "package_levels", ["base_gtin"])
    op.create_table(
        "product_master_versions",
        sa.Column("gtin", sa.String(14), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("master_hash", sa.LargeBinary(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("product_master_versions")
    op.drop_index("ix_package_levels_base_gtin", table_name="package_levels")
    op.drop_table("package_levels")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("serialised")
