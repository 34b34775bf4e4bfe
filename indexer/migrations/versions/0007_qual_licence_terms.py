"""Licence terms in clear and the approved files: a licence keeps its number (public
registration data, no longer a hash), issuing authority, business scope (classification
codes, comma-joined), warehouse address and province; each member's approval policy and
its approved-supplier and approved-product files (首营企业/首营品种), with the commitment of
the sealed qualification record behind each entry.

Revision ID: 0007_qual
Revises: 0007_recalls
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_qual"
down_revision = "0007_recalls"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("licences") as batch:
        batch.drop_column("number_hash")
        batch.add_column(sa.Column("number", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("authority", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("scope", sa.Text(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("warehouse_address", sa.String(200), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("province", sa.String(200), nullable=False, server_default=""))
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(
            sa.Column("approval_policy", sa.SmallInteger(), nullable=False, server_default="0")
        )
    op.create_table(
        "supplier_approvals",
        sa.Column("organisation_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("supplier_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("record", sa.LargeBinary(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", "supplier_id"),
    )
    op.create_table(
        "product_approvals",
        sa.Column("organisation_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("gtin", sa.String(14), nullable=False),
        sa.Column("record", sa.LargeBinary(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", "gtin"),
    )


def downgrade() -> None:
    op.drop_table("product_approvals")
    op.drop_table("supplier_approvals")
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("approval_policy")
    with op.batch_alter_table("licences") as batch:
        for column in ("province", "warehouse_address", "scope", "authority", "number"):
            batch.drop_column(column)
        batch.add_column(
            sa.Column("number_hash", sa.LargeBinary(), nullable=False, server_default=sa.text("''"))
        )
