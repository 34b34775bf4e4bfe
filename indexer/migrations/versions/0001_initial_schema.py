"""Initial schema: the chain projection, the exactly-once ledger and the undo log.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "adverse_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.LargeBinary(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("report_hash", sa.LargeBinary(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("adverse_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_adverse_events_subject"), ["subject"], unique=False)

    op.create_table(
        "blocks",
        sa.Column(
            "number",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("first_event_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("number"),
    )
    op.create_table(
        "company_prefixes",
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("prefix"),
    )
    with op.batch_alter_table("company_prefixes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_company_prefixes_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "documents",
        sa.Column("document_hash", sa.LargeBinary(), nullable=False),
        sa.Column("subject", sa.LargeBinary(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("document_hash"),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_documents_subject"), ["subject"], unique=False)

    op.create_table(
        "item_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("via_id", sa.Integer(), nullable=True),
        sa.Column("shipment_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("item_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_item_events_item", ["item_id", "block_number", "log_index"], unique=False
        )

    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.LargeBinary(), nullable=False),
        sa.Column("is_container", sa.Boolean(), nullable=False),
        sa.Column("lot_index", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_key"),
    )
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_items_holder_status_lot", ["holder_id", "status", "lot_index"], unique=False
        )
        batch_op.create_index(
            "ix_items_lot_holder_status", ["lot_index", "holder_id", "status"], unique=False
        )
        batch_op.create_index("ix_items_parent", ["parent_id"], unique=False)

    op.create_table(
        "licences",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("number_hash", sa.LargeBinary(), nullable=False),
        sa.Column("class_mask", sa.Integer(), nullable=False),
        sa.Column("valid_until", sa.BigInteger(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", "kind"),
    )
    op.create_table(
        "lot_reach",
        sa.Column("lot_index", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("first_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("lot_index", "organisation_id"),
    )
    op.create_table(
        "lots",
        sa.Column("lot_index", sa.Integer(), nullable=False),
        sa.Column("lot_key", sa.LargeBinary(), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot_number", sa.String(), nullable=False),
        sa.Column("production_date", sa.BigInteger(), nullable=False),
        sa.Column("expiry", sa.BigInteger(), nullable=False),
        sa.Column("qc_release_hash", sa.LargeBinary(), nullable=False),
        sa.Column("active_recall", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("lot_index"),
        sa.UniqueConstraint("lot_key"),
    )
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.create_index("ix_lots_expiry", ["expiry"], unique=False)
        batch_op.create_index(batch_op.f("ix_lots_gtin"), ["gtin"], unique=False)

    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("role", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("admitted_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("address"),
    )
    op.create_table(
        "processed_logs",
        sa.Column("block_hash", sa.LargeBinary(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("block_hash", "log_index"),
    )
    with op.batch_alter_table("processed_logs", schema=None) as batch_op:
        batch_op.create_index("ux_logs_block_number", ["block_number", "log_index"], unique=True)

    op.create_table(
        "products",
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("manufacturer_id", sa.Integer(), nullable=False),
        sa.Column("device_class", sa.Integer(), nullable=False),
        sa.Column("temp_min", sa.Integer(), nullable=False),
        sa.Column("temp_max", sa.Integer(), nullable=False),
        sa.Column("certificate_hash", sa.LargeBinary(), nullable=False),
        sa.Column("registration_expiry", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("gtin"),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_products_manufacturer_id"), ["manufacturer_id"], unique=False
        )

    op.create_table(
        "recalls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_index", sa.Integer(), nullable=False),
        sa.Column("initiator_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("reason_hash", sa.LargeBinary(), nullable=False),
        sa.Column("opened_block", sa.BigInteger(), nullable=False),
        sa.Column("closed_block", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("recalls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recalls_lot_index"), ["lot_index"], unique=False)

    op.create_table(
        "shipments",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("sender_id", sa.Integer(), nullable=False),
        sa.Column("receiver_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("document_hash", sa.LargeBinary(), nullable=False),
        sa.Column("sent_block", sa.BigInteger(), nullable=False),
        sa.Column("settled_block", sa.BigInteger(), nullable=True),
        sa.Column("accepted_count", sa.Integer(), nullable=True),
        sa.Column("rejected_count", sa.Integer(), nullable=True),
        sa.Column("temp_min", sa.Integer(), nullable=True),
        sa.Column("temp_max", sa.Integer(), nullable=True),
        sa.Column("excursion_seconds", sa.Integer(), nullable=True),
        sa.Column("quarantined", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shipments_receiver_id"), ["receiver_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_shipments_sender_id"), ["sender_id"], unique=False)

    op.create_table(
        "undo_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("table_name", sa.String(), nullable=False),
        sa.Column("key_json", sa.String(), nullable=False),
        sa.Column("old_json", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("undo_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_undo_log_block_number"), ["block_number"], unique=False
        )

    op.create_table(
        "verification_scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.LargeBinary(), nullable=False),
        sa.Column("scanned_at", sa.BigInteger(), nullable=False),
        sa.Column("location", sa.String(), nullable=False),
        sa.Column("scanner", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("verification_scans", schema=None) as batch_op:
        batch_op.create_index("ix_scans_item_time", ["item_key", "scanned_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("verification_scans", schema=None) as batch_op:
        batch_op.drop_index("ix_scans_item_time")

    op.drop_table("verification_scans")
    with op.batch_alter_table("undo_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_undo_log_block_number"))

    op.drop_table("undo_log")
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shipments_sender_id"))
        batch_op.drop_index(batch_op.f("ix_shipments_receiver_id"))

    op.drop_table("shipments")
    with op.batch_alter_table("recalls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recalls_lot_index"))

    op.drop_table("recalls")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_products_manufacturer_id"))

    op.drop_table("products")
    with op.batch_alter_table("processed_logs", schema=None) as batch_op:
        batch_op.drop_index("ux_logs_block_number")

    op.drop_table("processed_logs")
    op.drop_table("organisations")
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lots_gtin"))
        batch_op.drop_index("ix_lots_expiry")

    op.drop_table("lots")
    op.drop_table("lot_reach")
    op.drop_table("licences")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_parent")
        batch_op.drop_index("ix_items_lot_holder_status")
        batch_op.drop_index("ix_items_holder_status_lot")

    op.drop_table("items")
    with op.batch_alter_table("item_events", schema=None) as batch_op:
        batch_op.drop_index("ix_item_events_item")

    op.drop_table("item_events")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_documents_subject"))

    op.drop_table("documents")
    op.drop_table("cursor")
    with op.batch_alter_table("company_prefixes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_company_prefixes_organisation_id"))

    op.drop_table("company_prefixes")
    op.drop_table("blocks")
    with op.batch_alter_table("adverse_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adverse_events_subject"))

    op.drop_table("adverse_events")
