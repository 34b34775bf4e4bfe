"""The SQL schema of the projection (SQLModel tables). Alembic migrations create it.

Design: every serialised unit and container is a row of `items` with a surrogate integer
id; `items` holds the *effective* current state the contract's `itemOf` reports (a packed
unit carries its outermost container's holder and status). A container move is expanded
at ingest time into one `item_events` row per moved item, descendants included, so unit
history is one index range and lot/recall/inventory queries are index scans of `items`,
never recursive at read time. Each `item_events` row also records the item's state after
the event, which is how a reorg rewind restores `items` exactly.

Organisations get surrogate integer ids too (holders appear in 10M rows), lots use the
chain's own `lotIndex`.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, SmallInteger, Text
from sqlmodel import Field, SQLModel

__all__ = [
    "AdverseEvent",
    "Block",
    "CaseContents",
    "CompanyPrefix",
    "Cursor",
    "Document",
    "Item",
    "ItemEvent",
    "Licence",
    "Lot",
    "LotBalance",
    "LedgerEvent",
    "LedgerEventAudience",
    "LotReach",
    "Organisation",
    "PackageLevel",
    "ProcessedLog",
    "Product",
    "ProductApproval",
    "ProductMasterVersion",
    "Recall",
    "RecallAckEvent",
    "RecallNoticeVersion",
    "Shipment",
    "SupplierApproval",
    "UndoRecord",
    "VerificationScan",
]


# A 64-bit integer that is still SQLite's rowid alias when it is the primary key.
BigInt = BigInteger().with_variant(Integer(), "sqlite")


def _big(*, nullable: bool = False, index: bool = False) -> object:
    return Field(sa_column=Column(BigInteger, nullable=nullable, index=index))


class Organisation(SQLModel, table=True):
    __tablename__ = "organisations"
    id: int = Field(primary_key=True)
    address: str = Field(unique=True, max_length=42)
    role: int
    name: str
    status: int
    admitted_block: int = _big()  # type: ignore[assignment]
    approval_policy: int = Field(  # Partners.ApprovalPolicy: 0 off, 1 hold, 2 refuse
        default=0, sa_column=Column(SmallInteger, nullable=False, server_default="0")
    )


class CompanyPrefix(SQLModel, table=True):
    __tablename__ = "company_prefixes"
    prefix: str = Field(primary_key=True, max_length=12)
    organisation_id: int = Field(index=True)
    block_number: int = _big()  # type: ignore[assignment]


class Site(SQLModel, table=True):
    """A member's GLN: its primary one (set by the regulator) and/or a site it registered
    (name, English name, address; `active` until retired)."""

    __tablename__ = "sites"
    gln: str = Field(primary_key=True, max_length=13)
    organisation_id: int = Field(index=True)
    name: str = Field(default="", max_length=200)
    name_en: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=200)
    active: bool = False
    is_primary: bool = False
    block_number: int = _big()  # type: ignore[assignment]


class Licence(SQLModel, table=True):
    __tablename__ = "licences"
    organisation_id: int = Field(primary_key=True)
    kind: int = Field(primary_key=True)
    class_mask: int
    valid_until: int = _big()  # type: ignore[assignment]
    revoked: bool = False
    block_number: int = _big()  # type: ignore[assignment]
    number: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    authority: str = Field(default="", max_length=200, sa_column_kwargs={"server_default": ""})
    scope: str = Field(  # classification codes, comma-joined
        default="", sa_column=Column(Text, nullable=False, server_default="")
    )
    warehouse_address: str = Field(
        default="", max_length=200, sa_column_kwargs={"server_default": ""}
    )
    province: str = Field(default="", max_length=200, sa_column_kwargs={"server_default": ""})


class SupplierApproval(SQLModel, table=True):
    """An entry of a member's approved-supplier file (首营企业); `approved` false once
    withdrawn (the row keeps the withdrawal's record commitment)."""

    __tablename__ = "supplier_approvals"
    organisation_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    supplier_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    record: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    approved: bool
    block_number: int = _big()  # type: ignore[assignment]


class ProductApproval(SQLModel, table=True):
    """An entry of a member's approved-product file (首营品种)."""

    __tablename__ = "product_approvals"
    organisation_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    gtin: str = Field(primary_key=True, max_length=14)
    record: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    approved: bool
    block_number: int = _big()  # type: ignore[assignment]


class Product(SQLModel, table=True):
    __tablename__ = "products"
    gtin: str = Field(primary_key=True, max_length=14)
    manufacturer_id: int = Field(index=True)
    device_class: int
    temp_min: int
    temp_max: int
    certificate_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    registration_expiry: int = _big()  # type: ignore[assignment]
    block_number: int = _big()  # type: ignore[assignment]
    serialised: bool = True


class PackageLevel(SQLModel, table=True):
    """A packaging level (`Devices.registerPackageLevel`), resolved to its unit product."""

    __tablename__ = "package_levels"
    package_gtin: str = Field(primary_key=True, max_length=14)
    child_gtin: str = Field(max_length=14)
    quantity: int = _big()  # type: ignore[assignment]
    base_gtin: str = Field(index=True, max_length=14)
    base_quantity: int = _big()  # type: ignore[assignment]
    block_number: int = _big()  # type: ignore[assignment]


class LotBalance(SQLModel, table=True):
    """Loose units of a lot-tracked lot (not serialised, not inside a case) at one
    organisation, as `Items.lotBalance` reports them after the last `LotBalance` event:
    Active, Quarantined, and shipped by it but not yet settled by the receiver."""

    __tablename__ = "lot_balances"
    __table_args__ = (Index("ix_lot_balances_holder", "organisation_id", "lot_index"),)
    lot_index: int = Field(primary_key=True)
    organisation_id: int = Field(primary_key=True)
    active: int = _big()  # type: ignore[assignment]
    quarantined: int = _big()  # type: ignore[assignment]
    in_transit: int = _big()  # type: ignore[assignment]
    updated_block: int = _big()  # type: ignore[assignment]


class LotEvent(SQLModel, table=True):
    """One lot's quantity in one lot event (commissioned, shipped, received, rejected,
    dispensed, quarantined, released, destroyed): the history `lot_balances` sums up, kept
    for the EPCIS export. `kind` is an `EventKind`; `holder_id` is null for shipment events
    (their parties are the shipment's)."""

    __tablename__ = "lot_events"
    __table_args__ = (Index("ix_lot_events_lot", "lot_index", "block_number", "log_index"),)
    block_number: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    log_index: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    lot_index: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    kind: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    quantity: int = _big()  # type: ignore[assignment]
    holder_id: int | None = None
    shipment_id: int | None = _big(nullable=True)  # type: ignore[assignment]


class CaseContents(SQLModel, table=True):
    """A case (package-level item, `Items.packCases`): an `items` row whose units are a
    quantity of its lot rather than serialised children."""

    __tablename__ = "case_contents"
    item_id: int = Field(primary_key=True)
    package_gtin: str = Field(max_length=14)
    quantity: int = _big()  # type: ignore[assignment]


class ProductMasterVersion(SQLModel, table=True):
    """One anchored version of a product's public master data (`MasterDataAnchored`): history
    rows, never overwritten; the record itself is content-addressed in the API store."""

    __tablename__ = "product_master_versions"
    gtin: str = Field(primary_key=True, max_length=14)
    version: int = Field(primary_key=True)
    master_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    block_number: int = _big()  # type: ignore[assignment]
    tx_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class Lot(SQLModel, table=True):
    __tablename__ = "lots"
    __table_args__ = (Index("ix_lots_expiry", "expiry"),)
    lot_index: int = Field(primary_key=True)
    lot_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False, unique=True))
    gtin: str = Field(index=True, max_length=14)
    lot_number: str
    production_date: int = _big()  # type: ignore[assignment]
    expiry: int = _big()  # type: ignore[assignment]
    qc_release_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    active_recall: int = 0
    block_number: int = _big()  # type: ignore[assignment]


class Item(SQLModel, table=True):
    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_lot_holder_status", "lot_index", "holder_id", "status"),
        Index("ix_items_holder_status_lot", "holder_id", "status", "lot_index"),
        Index("ix_items_parent", "parent_id"),
    )
    id: int = Field(primary_key=True)
    item_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False, unique=True))
    is_container: bool
    lot_index: int | None = None
    code: str  # serial for units, SSCC for containers
    holder_id: int
    status: int = Field(sa_column=Column(SmallInteger, nullable=False))
    parent_id: int | None = None
    updated_block: int = _big()  # type: ignore[assignment]


class ItemEvent(SQLModel, table=True):
    """One row per item per event; holder/status/parent are the item's state after it."""

    __tablename__ = "item_events"
    __table_args__ = (Index("ix_item_events_item", "item_id", "block_number", "log_index"),)
    id: int = Field(sa_column=Column(BigInt, primary_key=True, autoincrement=False))
    item_id: int
    block_number: int = _big()  # type: ignore[assignment]
    log_index: int
    kind: int = Field(sa_column=Column(SmallInteger, nullable=False))
    holder_id: int
    status: int = Field(sa_column=Column(SmallInteger, nullable=False))
    parent_id: int | None = None
    via_id: int | None = None  # the shipped/handled root container, if not the item itself
    shipment_id: int | None = None


class LotReach(SQLModel, table=True):
    """Every organisation a lot ever reached, with the first block it did."""

    __tablename__ = "lot_reach"
    lot_index: int = Field(primary_key=True)
    organisation_id: int = Field(primary_key=True)
    first_block: int = _big()  # type: ignore[assignment]


class Shipment(SQLModel, table=True):
    __tablename__ = "shipments"
    id: int = Field(sa_column=Column(BigInt, primary_key=True, autoincrement=False))
    sender_id: int = Field(index=True)
    receiver_id: int = Field(index=True)
    status: int
    item_count: int
    document_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sent_block: int = _big()  # type: ignore[assignment]
    settled_block: int | None = _big(nullable=True)  # type: ignore[assignment]
    accepted_count: int | None = None
    rejected_count: int | None = None
    temp_min: int | None = None
    temp_max: int | None = None
    excursion_seconds: int | None = None
    quarantined: bool | None = None


class Recall(SQLModel, table=True):
    __tablename__ = "recalls"
    id: int = Field(primary_key=True)
    lot_index: int = Field(index=True)
    initiator_id: int
    level: int
    reason_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    opened_block: int = _big()  # type: ignore[assignment]
    closed_block: int | None = _big(nullable=True)  # type: ignore[assignment]
    # The RecallOpened log's chain reference (NULL for recalls indexed before migration 0003).
    opened_tx_hash: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    opened_log_index: int | None = None


class Document(SQLModel, table=True):
    __tablename__ = "documents"
    document_hash: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    subject: bytes = Field(sa_column=Column(LargeBinary, nullable=False, index=True))
    organisation_id: int
    kind: int
    block_number: int = _big()  # type: ignore[assignment]


class AdverseEvent(SQLModel, table=True):
    __tablename__ = "adverse_events"
    id: int = Field(primary_key=True)
    subject: bytes = Field(sa_column=Column(LargeBinary, nullable=False, index=True))
    reporter_id: int
    severity: int
    report_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    block_number: int = _big()  # type: ignore[assignment]


class VerificationScan(SQLModel, table=True):
    """Written by the verification API (off-chain, never rewound by a reorg)."""

    __tablename__ = "verification_scans"
    __table_args__ = (
        Index("ix_scans_item_time", "item_key", "scanned_at"),
        Index("ix_scans_time", "scanned_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    item_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    scanned_at: int = _big()  # type: ignore[assignment]
    location: str
    scanner: str | None = None


class Block(SQLModel, table=True):
    """Blocks the indexer wrote (with logs, or a range end): hash, time, first event row."""

    __tablename__ = "blocks"
    number: int = Field(sa_column=Column(BigInt, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    timestamp: int = _big()  # type: ignore[assignment]
    first_event_id: int | None = _big(nullable=True)  # type: ignore[assignment]


class ProcessedLog(SQLModel, table=True):
    """The exactly-once ledger: one row per log written, unique on (block_hash, log_index)."""

    __tablename__ = "processed_logs"
    __table_args__ = (Index("ux_logs_block_number", "block_number", "log_index", unique=True),)
    block_hash: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    log_index: int = Field(primary_key=True)
    block_number: int = _big()  # type: ignore[assignment]
    tx_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class Cursor(SQLModel, table=True):
    __tablename__ = "cursor"
    id: int = Field(primary_key=True)
    block_number: int = _big()  # type: ignore[assignment]
    block_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class UndoRecord(SQLModel, table=True):
    """The prior value of a small-table row changed at `block_number`, for reorg rewinds."""

    __tablename__ = "undo_log"
    id: int = Field(sa_column=Column(BigInt, primary_key=True, autoincrement=False))
    block_number: int = _big(index=True)  # type: ignore[assignment]
    table_name: str
    key_json: str
    old_json: str | None = None


class RecallNoticeVersion(SQLModel, table=True):
    """Each version of a recall's notice: version 1 is `RecallOpened`'s reasonHash, later
    ones `RecallUpdated`; the value is the salted commitment of the sealed notice record
    (history rows, never overwritten)."""

    __tablename__ = "recall_notice_versions"
    recall_id: int = Field(primary_key=True)
    version: int = Field(primary_key=True)
    commitment: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    by_id: int
    block_number: int = _big()  # type: ignore[assignment]
    tx_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class RecallAckEvent(SQLModel, table=True):
    """A holder's signed acknowledgement of a recall (`RecallAcknowledged`): the salted
    commitment of its sealed record; a holder may acknowledge more than once (history)."""

    __tablename__ = "recall_ack_events"
    block_number: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    log_index: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    recall_id: int = Field(index=True)
    holder_id: int
    commitment: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    tx_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LedgerEvent(SQLModel, table=True):
    """The transactional outbox (issue #17): one row per event a member may be told of,
    written in the same transaction as the projection (or the off-chain record) behind it.
    `seq` never repeats, even after a rewind deleted the newest rows (SQLite AUTOINCREMENT,
    a PostgreSQL sequence), so a subscriber's cursor never skips a later event."""

    __tablename__ = "ledger_events"
    __table_args__ = (
        Index("ix_ledger_events_block", "block_number"),
        Index("ux_ledger_events_dedupe", "dedupe_key", unique=True),
        {"sqlite_autoincrement": True},
    )
    seq: int | None = Field(default=None, sa_column=Column(BigInt, primary_key=True))
    kind: str = Field(max_length=40)
    occurred_at: int = _big()  # type: ignore[assignment]
    block_number: int | None = _big(nullable=True)  # type: ignore[assignment]
    tx_hash: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    log_index: int | None = None
    gtin: str | None = Field(default=None, max_length=14)
    lot: str | None = None
    shipment_id: int | None = _big(nullable=True)  # type: ignore[assignment]
    counterparty: str | None = Field(default=None, max_length=42)
    location: str | None = Field(default=None, max_length=13)
    dedupe_key: str | None = Field(default=None, max_length=80)
    data: str = Field(sa_column=Column(Text, nullable=False))


class LedgerEventAudience(SQLModel, table=True):
    """Who is entitled to an event (the regulator, to all: no rows for it)."""

    __tablename__ = "ledger_event_audience"
    __table_args__ = (Index("ix_ledger_event_audience_seq", "seq"),)
    organisation_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
