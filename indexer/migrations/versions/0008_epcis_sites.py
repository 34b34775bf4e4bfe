"""Members' GLNs and sites: the primary GLN the regulator sets and the sites (GLN, name,
English name, address) each member registers and retires, for EPCIS readPoint/bizLocation.

Revision ID: 0008_epcis
Revises: 0007_qual
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_epcis"
down_revision = "0007_qual"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("gln", sa.String(13), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("gln"),
    )
    op.create_index("ix_sites_organisation_id", "sites", ["organisation_id"])


def downgrade() -> None:
    op.drop_index("ix_sites_organisation_id", table_name="sites")
    op.drop_table("sites")
