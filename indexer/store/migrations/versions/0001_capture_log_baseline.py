"""The EPCIS capture log as `create_all` made it before migrations (baseline).

Adopts a log made before then, including one from before the `state`, `operations` and
`sending` columns (its rows read as captured, or pending without tx hashes): the missing
columns are added.

Revision ID: capture_log_0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "capture_log_0001"
down_revision = None
branch_labels = ("capture_log",)
depends_on = None


def _added() -> list[sa.Column[object]]:
    return [
        sa.Column("state", sa.String(10), nullable=True),
        sa.Column("operations", sa.Text, nullable=True),
        sa.Column("sending", sa.Text, nullable=True),
    ]


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("epcis_captures"):
        op.create_table(
            "epcis_captures",
            sa.Column("event_hash", sa.String(100), primary_key=True),
            sa.Column("member", sa.String(42), nullable=False),
            sa.Column("claimed_at", sa.BigInteger, nullable=False),
            sa.Column("tx_hashes", sa.Text, nullable=True),
            *_added(),
        )
        return
    present = {c["name"] for c in inspector.get_columns("epcis_captures")}
    for column in _added():
        if column.name not in present:
            op.add_column("epcis_captures", column)


def downgrade() -> None:
    raise NotImplementedError("the baseline is not undone")
