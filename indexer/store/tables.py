"""The tables of the API's own database (`api.db`, or `api_db_url`) and of the EPCIS
capture log (`epcis.db`, or `epcis_db_url`): one MetaData, the models the typed queries of
this package read and write. The migrations under `indexer/store/migrations`, not these
models, are the schema's truth (`indexer.store.engine.migrate_store`).

Tables of the API's database are named `api_*` or `portal_*`, so it may share a database
with the indexer's; the capture log's is `epcis_captures`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "API_TABLES",
    "CAPTURE_TABLES",
    "capture_jobs",
    "acknowledgements",
    "api_keys",
    "captures",
    "challenges",
    "custodial_keys",
    "document_keys",
    "documents",
    "job_reports",
    "jobs",
    "master_records",
    "metadata",
    "oversight_cursors",
    "portal_users",
    "record_keys",
    "records",
    "revoked_sessions",
    "staff_keys",
    "approvals",
    "audit_log",
    "audit_anchors",
    "idempotency",
    "import_chunks",
    "import_errors",
    "import_jobs",
    "broker_cursors",
    "notification_reads",
    "deliveries",
    "epcis_queries",
    "epcis_query_subscriptions",
    "subscriptions",
]

metadata = MetaData()

# Spent sign-in challenges (`domain.challenges`): the nonce as primary key.
challenges = Table(
    "api_challenges",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("address", String(42), nullable=False),
    Column("message", String(2000), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used", Boolean, nullable=False, default=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("address", String(42), nullable=False, index=True),
    Column("label", String(200), nullable=False),
    Column("secret_sha256", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
)

custodial_keys = Table(
    "api_custodial_keys",
    metadata,
    Column("address", String(42), primary_key=True),
    Column("nonce", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

documents = Table(
    "api_documents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("uploader", String(42), nullable=False, index=True),
    Column("counterparty", String(42), nullable=True),
    Column("subject_id", LargeBinary, nullable=False),
    Column("kind", Integer, nullable=False),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("salt", LargeBinary, nullable=False),
    Column("document_hash", LargeBinary, nullable=False, unique=True),
    Column("nonce", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("anchored_tx", String(66), nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

document_keys = Table(
    "api_document_keys",
    metadata,
    Column("document_id", String(32), primary_key=True),
    # A member address (lower-case 0x-hex) or the group name "regulator".
    Column("party", String(42), primary_key=True, index=True),
    Column("nonce", LargeBinary, nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
)

# Sealed records (`domain.records`): structured GSP records, encrypted, with the salted
# commitment the chain carries.
records = Table(
    "api_records",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(32), nullable=False, index=True),
    Column("author", String(42), nullable=False, index=True),
    Column("subject_id", LargeBinary, nullable=False, index=True),
    Column("salt", LargeBinary, nullable=False),
    Column("commitment", LargeBinary, nullable=False, unique=True),
    Column("nonce", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("anchored_tx", String(66), nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

record_keys = Table(
    "api_record_keys",
    metadata,
    Column("record_id", String(32), primary_key=True),
    # A member address (lower-case 0x-hex) or the group name "regulator".
    Column("party", String(42), primary_key=True, index=True),
    Column("nonce", LargeBinary, nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
)

acknowledgements = Table(
    "api_recall_acknowledgements",
    metadata,
    Column("recall_id", BigInteger, primary_key=True, autoincrement=False),
    Column("holder", String(42), primary_key=True),
    Column("acknowledged_at", BigInteger, nullable=False),
    Column("acknowledged_by", String(64), nullable=False),
    Column("note", String(2000), nullable=False),
)

oversight_cursors = Table(
    "api_oversight_cursors",
    metadata,
    Column("feed", String(32), primary_key=True),
    Column("position", String(80), nullable=False),
)

portal_users = Table(
    "portal_users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", String(200), nullable=False),
    Column("address", String(42), nullable=False, index=True),
    Column("display_name", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("role", String(16), nullable=False, server_default="manager"),
    Column("created_by", String(64), nullable=True),
)

revoked_sessions = Table(
    "portal_revoked_sessions",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
)

jobs = Table(
    "portal_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(42), nullable=False, index=True),
    Column("title", Text, nullable=False),
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False),
    Column("problem", Text),  # JSON of the portal's failure
    Column("heartbeat_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger),
)

# Bulk imports (`domain.bulk_import`): a job, its per-row problems and its write chunks.
import_jobs = Table(
    "api_import_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(42), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("filename", String(200), nullable=False),
    Column("state", String(16), nullable=False),  # invalid, ready, running, done, failed
    Column("total_rows", Integer, nullable=False),
    Column("done_rows", Integer, nullable=False),
    Column("error_count", Integer, nullable=False),
    Column("problem", Text),  # JSON {code, detail} of a failed write
    Column("created_at", BigInteger, nullable=False),
    Column("heartbeat_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger),
)

import_errors = Table(
    "api_import_errors",
    metadata,
    Column("job_id", String(32), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("row", Integer, nullable=False),
    Column("column", String(40), nullable=False),
    Column("code", String(40), nullable=False),
    Column("value", String(200), nullable=False),
    Column("message_zh", Text, nullable=False),
    Column("message_en", Text, nullable=False),
    Column("cells", Text, nullable=False),  # JSON of the row as read, for the error file
)

import_chunks = Table(
    "api_import_chunks",
    metadata,
    Column("job_id", String(32), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("rows", Integer, nullable=False),
    Column("payload", Text, nullable=False),  # JSON: what the chunk writes
    Column("state", String(12), nullable=False),  # pending, sending, confirmed
    Column("before", Text),  # JSON: the ledger fact read just before sending
    Column("tx_hash", String(66)),
)

# Product master records (`domain.master_data`), content-addressed: the key is the keccak256
# of the canonical JSON the chain anchors (`Devices.MasterDataAnchored`). Public data.
master_records = Table(
    "api_master_records",
    metadata,
    Column("master_hash", LargeBinary, primary_key=True),
    Column("gtin", String(14), nullable=False, index=True),
    Column("record", Text, nullable=False),
    Column("stored_at", BigInteger, nullable=False),
)

# The per-row report of a finished master-data import job (`portal.routes.master_data`).
job_reports = Table(
    "portal_job_reports",
    metadata,
    Column("job_id", String(32), primary_key=True),
    Column("owner", String(42), nullable=False),
    Column("report", Text, nullable=False),  # JSON
)

captures = Table(
    "epcis_captures",
    metadata,
    Column("event_hash", String(100), primary_key=True),
    Column("member", String(42), nullable=False),
    Column("claimed_at", BigInteger, nullable=False),
    Column("tx_hashes", Text, nullable=True),  # JSON list; NULL while first pending
    Column("state", String(10), nullable=True),  # NULL in rows older than the column
    Column("operations", Text, nullable=True),  # JSON list of applied operation names
    Column("sending", Text, nullable=True),  # JSON [operation, nonce, block] being sent
)

# EPCIS 2.0 capture jobs (`indexer.store.capture_jobs`): one per accepted document.
capture_jobs = Table(
    "epcis_capture_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("member", String(42), nullable=False, index=True),
    Column("state", String(12), nullable=False),  # running, success, failed
    Column("event_count", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("heartbeat_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
    Column("report", Text, nullable=True),  # JSON: per-event outcome and errors
)

# Per-user API keys of the regulator's staff (`domain.staff_keys`), bound to a portal user.
staff_keys = Table(
    "portal_staff_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("username", String(64), nullable=False, index=True),
    Column("label", String(200), nullable=False),
    Column("secret_sha256", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
)

# Maker-checker (`domain.approvals`): an action one user proposed and another decides.
approvals = Table(
    "api_approvals",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("organisation", String(42), nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("payload", Text, nullable=False),  # JSON
    Column("summary", String(500), nullable=False),
    Column("checker_role", String(16), nullable=False),
    Column("proposer", String(64), nullable=False),
    Column("proposed_at", BigInteger, nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", BigInteger, nullable=True),
    Column("reason", String(2000), nullable=True),
    Column("outcome", Text, nullable=True),  # JSON
)

# The audit trail (`domain.audit`): one hash chain per organisation (`chain` = its
# address, or "-" for sign-in attempts of no known user), append-only.
audit_log = Table(
    "api_audit_log",
    metadata,
    Column("chain", String(42), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", BigInteger, nullable=False, index=True),
    Column("username", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(200), nullable=False),
    Column("object", String(500), nullable=False),
    Column("outcome", String(40), nullable=False),
    Column("prev_hash", LargeBinary, nullable=False),
    Column("entry_hash", LargeBinary, nullable=False),
)

# Chain heads anchored on chain (Records.anchorDocument of the salted commitment).
audit_anchors = Table(
    "api_audit_anchors",
    metadata,
    Column("chain", String(42), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("head_hash", LargeBinary, nullable=False),
    Column("salt", LargeBinary, nullable=False),
    Column("commitment", LargeBinary, nullable=False),
    Column("tx_hash", String(66), nullable=False),
    Column("anchored_at", BigInteger, nullable=False),
)

# The first answer to a POST sent with an Idempotency-Key (`domain.idempotency`), per
# principal and key: a lease while the request runs (`status` NULL), then the answer sealed
# under the master key (`answer` NULL when it was larger than the store keeps).
idempotency = Table(
    "api_idempotency",
    metadata,
    Column("principal", String(80), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", LargeBinary, nullable=False),
    Column("owner", String(32), nullable=False),  # the request holding the lease
    Column("lease_until", BigInteger, nullable=False),  # ms since the epoch
    Column("status", Integer, nullable=True),
    Column("nonce", LargeBinary, nullable=True),
    Column("answer", LargeBinary, nullable=True),
    Column("expires_at", BigInteger, nullable=False, index=True),  # ms since the epoch
)

# The AMQP publisher's position in the event stream (`indexer.store.broker_cursor`): the
# newest event seq every message of which the broker confirmed, per exchange.
broker_cursors = Table(
    "api_broker_cursors",
    metadata,
    Column("exchange", String(255), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# Each portal user's read position in its notification centre (`indexer.store.
# notification_reads`): events up to `seq` are read.
notification_reads = Table(
    "portal_notification_reads",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# Webhook subscriptions (`domain.subscriptions`, issue #17): per member (or "regulator"),
# the secret AES-GCM sealed under the master key's `webhooks` sub-key; `cursor` the last
# event seq acknowledged with a 2xx; a lease so one API process delivers it at a time.
subscriptions = Table(
    "api_subscriptions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(42), nullable=False, index=True),
    Column("created_by", String(120), nullable=False),
    Column("kind", String(20), nullable=False),  # "events" | "epcis.query"
    Column("kinds", Text, nullable=False),  # JSON list
    Column("filter", Text, nullable=False),  # JSON object
    Column("url", String(2048), nullable=False),
    Column("secret_nonce", LargeBinary, nullable=False),
    Column("secret_ciphertext", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),  # active | paused | suspended
    Column("cursor", BigInteger, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", BigInteger, nullable=False),  # unix milliseconds
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# One row per (subscription, event) attempted: pending (retrying), delivered, dead, skipped.
deliveries = Table(
    "api_deliveries",
    metadata,
    Column("subscription_id", String(32), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),  # unix milliseconds
    Column("last_status", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("state", String(16), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# EPCIS 2.0 named queries (`domain.epcis_queries`): a member's saved query parameters.
epcis_queries = Table(
    "api_epcis_queries",
    metadata,
    Column("owner", String(42), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("params", Text, nullable=False),  # JSON object: EPCIS parameter -> values
    Column("created_by", String(120), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# An EPCIS query subscription's own state beside its `api_subscriptions` row (kind
# "epcis.query"): stream, or a schedule (JSON) and the next time it is due.
epcis_query_subscriptions = Table(
    "api_epcis_query_subscriptions",
    metadata,
    Column("subscription_id", String(32), primary_key=True),
    Column("owner", String(42), nullable=False, index=True),
    Column("query_name", String(64), nullable=False),
    Column("stream", Boolean, nullable=False),
    Column("schedule", Text, nullable=True),  # JSON object (None: stream)
    Column("report_if_empty", Boolean, nullable=False),
    Column("next_run_at", BigInteger, nullable=False),  # unix seconds (schedules)
)

API_TABLES = (
    challenges,
    api_keys,
    custodial_keys,
    documents,
    document_keys,
    records,
    record_keys,
    acknowledgements,
    oversight_cursors,
    portal_users,
    revoked_sessions,
    jobs,
    master_records,
    job_reports,
    staff_keys,
    approvals,
    audit_log,
    audit_anchors,
    idempotency,
    import_jobs,
    import_errors,
    import_chunks,
    broker_cursors,
    notification_reads,
    subscriptions,
    epcis_queries,
    epcis_query_subscriptions,
    deliveries,
)

CAPTURE_TABLES = (captures, capture_jobs)
