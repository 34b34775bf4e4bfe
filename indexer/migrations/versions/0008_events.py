"""The event outbox (issue #17): `ledger_events`, one row per event a member may be told
of, written in the projection's own transaction, and `ledger_event_audience`, who is
entitled to each (the regulator to all).

Revision ID: 0008_events
Revises: 0008_epcis
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_events"
down_revision = "0008_epcis"
branch_labels = None
depends_on = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_events",
        sa.Column("seq", BigInt, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("tx_hash", sa.LargeBinary(), nullable=True),
        sa.Column("log_index", sa.Integer(), nullable=True),
        sa.Column("gtin", sa.String(length=14), nullable=True),
        sa.Column("lot", sa.String(), nullable=True),
        sa.Column("shipment_id", sa.BigInteger(), nullable=True),
        sa.Column("counterparty", sa.String(length=42), nullable=True),
        sa.Column("location", sa.String(length=13), nullable=True),
        sa.Column("dedupe_key", sa.String(length=80), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_ledger_events_block", "ledger_events", ["block_number"], unique=False)
    op.create_index("ux_ledger_events_dedupe", "ledger_events", ["dedupe_key"], unique=True)
    op.create_table(
        "ledger_event_audience",
        sa.Column("organisation_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", "seq"),
    )
    op.create_index("ix_ledger_event_audience_seq", "ledger_event_audience", ["seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ledger_event_audience_seq", table_name="ledger_event_audience")
    op.drop_table("ledger_event_audience")
    op.drop_index("ux_ledger_events_dedupe", table_name="ledger_events")
    op.drop_index("ix_ledger_events_block", table_name="ledger_events")
    op.drop_table("ledger_events")
