"""Users inside an organisation: a role per portal user, per-user API keys of the regulator's
staff, the maker-checker's pending actions and the hash-chained audit trail with its anchors.

Revision ID: api_store_users
Revises: api_store_0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "api_store_users"
down_revision = "api_store_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("portal_users") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="manager"))
        batch.add_column(sa.Column("created_by", sa.String(64), nullable=True))
    op.create_table(
        "portal_staff_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, index=True),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("secret_sha256", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "api_approvals",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("organisation", sa.String(42), nullable=False, index=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("summary", sa.String(500), nullable=False),
        sa.Column("checker_role", sa.String(16), nullable=False),
        sa.Column("proposer", sa.String(64), nullable=False),
        sa.Column("proposed_at", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(2000), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
    )
    op.create_table(
        "api_audit_log",
        sa.Column("chain", sa.String(42), primary_key=True),
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("at", sa.BigInteger(), nullable=False, index=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("object", sa.String(500), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(), nullable=False),
        sa.Column("entry_hash", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "api_audit_anchors",
        sa.Column("chain", sa.String(42), primary_key=True),
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("head_hash", sa.LargeBinary(), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("commitment", sa.LargeBinary(), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("anchored_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("api_audit_anchors")
    op.drop_table("api_audit_log")
    op.drop_table("api_approvals")
    op.drop_table("portal_staff_keys")
    with op.batch_alter_table("portal_users") as batch:
        batch.drop_column("created_by")
        batch.drop_column("role")
