"""The oversight feed: what happens off-chain on the partner side and the regulator must
see, public verification scans and recall acknowledgements, carried to the regulator's own
deployment (another organisation, another machine).

The partner API serves the feed (`scan_page`, `acknowledgement_page`; routes
`GET /v1/partner/oversight/scans` and `/acknowledgements`) to the regulator member only,
signed in with its ledger key like any member: no shared secret between the two sides.
The regulator API pulls it (`api.oversight_pull`) and writes what it gets into its own
databases with `store_scans` (its indexer's `verification_scans`, which its alerts read)
and `store_acknowledgements` (its own `api_recall_acknowledgements`), remembering how far
it got per feed in `api_oversight_cursors` of its API store (`indexer.store.oversight_feed`).

Product master records (names, model, registration number, packaging: public data) cross
too, since the regulator's portal and verification show them: the regulator's pull lists
the versions its own read model saw anchored on the chain (`product_master_versions`),
asks the partner API for the records it lacks (`master_record_page`, route
`GET /v1/partner/oversight/master-records`) and stores one (`store_master_records`, into
its own `api_master_records`) only if its keccak256 is the anchored hash and it is a valid
record of that GTIN; anything else is refused and counted, never stored. Its cursor is
the (block, GTIN, version) up to which every anchored version is stored.

Sealed records (`domain.records`) cross both ways: see "sealed records" below
(`opened_records`, `store_records`, `import_record`; routes
`GET`/`POST /v1/partner/oversight/records`). They carry what the parties wrote (an
adverse event's narrative, an acceptance record), only between the two deployments the
regulator may read everything on, over the regulator member's sign-in.

Nothing personal crosses in the scan and acknowledgement feeds: a scan is its unit, time,
coarse place (as logged) and the member that scanned it with an API key (an organisation's
ledger address), or nobody for an anonymous scan; never an IP address.

Cursors. Scans page by the partner's row id: scan ids are committed in id order
(`indexer.queries.verification.ScanLog` serialises its writers), so `id > after` misses
none. Acknowledgements page by (acknowledged_at, recall_id, holder); since a slower first
acknowledgement may commit a moment after a later one, the puller asks again from `OVERLAP_SECONDS`
before the newest it has, and rows it already has are skipped. Writing scans and then the
cursor spans two databases: after a crash (or a failed pull) rows may be written whose
cursor was not saved, so the first page written afterwards (`store_scans(recheck=True)`)
skips rows this side already holds with the same unit, time, place and scanner.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict
from typing import Annotated

from eth_utils import keccak
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from medledger.domain import records
from medledger.domain.errors import ApiError
from medledger.domain.master_data import MasterRecord, forget_names
from medledger.domain.services import Services
from medledger.domain.store import api_store
from medledger.indexer.queries.oversight_scans import PulledScan, add_pulled_scans, scans_after
from medledger.indexer.store import oversight_feed as cursors
from medledger.indexer.store import records as stored_records
from medledger.indexer.store.master_records import master_records_by_hash, put_master_record
from medledger.indexer.store.oversight_feed import AnchoredVersion, anchored_after
from medledger.indexer.store.recalls import Acknowledgement, acknowledgements_after

__all__ = [
    "MAX_MASTER_RECORDS",
    "MAX_PAGE",
    "MAX_RECORD_PAGE",
    "OVERLAP_SECONDS",
    "AckCursor",
    "AckPage",
    "AckRecord",
    "MasterCursor",
    "MasterRecordOut",
    "MasterRecordPage",
    "MasterStored",
    "RecordCursor",
    "RecordOut",
    "RecordPage",
    "RecordStored",
    "RecordsStored",
    "ScanPage",
    "ScanRecord",
    "acknowledgement_page",
    "MEMBER_UNNAMED",
    "load_cursor",
    "master_record_page",
    "import_record",
    "missing_master_versions",
    "opened_records",
    "save_records_cursor",
    "scan_page",
    "scanner_address",
    "store_acknowledgements",
    "store_master_records",
    "store_records",
    "store_scans",
]

MAX_PAGE = 1000
MAX_MASTER_RECORDS = 100  # hashes per request: a record is at most a few kB
_HASH = r"^0x[0-9a-f]{64}$"
OVERLAP_SECONDS = 300
_ADDRESS = r"^0x[0-9a-fA-F]{40}$"
# Kept for a member scan whose member is not known (rows logged before scans kept the
# member's address): not NULL, so the regulator's alerts still count it as a member's.
MEMBER_UNNAMED = "member"


def scanner_address(stored: object) -> str | None:
    """The member address a `verification_scans.scanner` value names, if it names one
    (older rows kept a key hash; a pulled scan of an unnamed member `MEMBER_UNNAMED`)."""
    text = None if stored is None else str(stored)
    return text if text is not None and re.fullmatch(_ADDRESS, text) else None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScanRecord(_Strict):
    id: int = Field(ge=1, description="the partner's row id: the feed's cursor")
    item_id: str = Field(pattern=r"^0x[0-9a-f]{64}$")
    scanned_at: int = Field(ge=0, le=2**62)
    location: str = Field(max_length=64, description="coarse: CN, CN-31, geo:31.2,121.5")
    by_member: bool = Field(description="scanned with a member's API key (else anonymous)")
    scanner: str | None = Field(default=None, pattern=_ADDRESS, description="that member")


class ScanPage(_Strict):
    scans: list[ScanRecord] = Field(max_length=MAX_PAGE)
    after: int = Field(ge=0, description="ask again with this to continue")


class AckRecord(_Strict):
    """One recall acknowledgement (the partner route's answer too)."""

    recall_id: int = Field(ge=1, le=2**32 - 1)
    holder: str = Field(pattern=_ADDRESS)
    acknowledged_at: int = Field(ge=0, le=2**62)
    acknowledged_by: str = Field(max_length=64)
    note: str = Field(max_length=2000)


class AckPage(_Strict):
    acknowledgements: list[AckRecord] = Field(max_length=MAX_PAGE)
    after: str = Field(max_length=80, description="ask again with this to continue")


class AckCursor(tuple[int, int, str]):
    """(acknowledged_at, recall_id, holder) of the last row read; text `t:recall:holder`."""

    PATTERN = r"^[0-9]{1,19}:[0-9]{1,10}:(0x[0-9a-fA-F]{40})?$"

    @classmethod
    def parse(cls, text: str) -> AckCursor:
        t, r, h = text.split(":")
        return cls((int(t), int(r), h))

    def text(self) -> str:
        return f"{self[0]}:{self[1]}:{self[2]}"

    def rewound(self, seconds: int) -> AckCursor:
        return AckCursor((max(0, self[0] - seconds), 0, ""))


# ------------------------------------------------------------------ the partner side


def scan_page(services: Services, *, after: int, limit: int) -> ScanPage:
    """Scans logged after row `after`, oldest first."""
    with services.engine.connect() as conn:
        rows = scans_after(conn, after, limit=limit)
    scans = [
        ScanRecord(
            id=r.id,
            item_id="0x" + r.item_key.hex(),
            scanned_at=r.scanned_at,
            location=r.location,
            by_member=r.scanner is not None,
            scanner=scanner_address(r.scanner),
        )
        for r in rows
    ]
    return ScanPage(scans=scans, after=scans[-1].id if scans else after)


def acknowledgement_page(services: Services, *, after: AckCursor, limit: int) -> AckPage:
    """Acknowledgements after `after` in (acknowledged_at, recall_id, holder) order."""
    rows = acknowledgements_after(api_store(services).engine, after, limit=limit)
    records = [AckRecord.model_validate(asdict(a)) for a in rows]
    last = rows[-1] if rows else None
    cursor = (
        after if last is None else AckCursor((last.acknowledged_at, last.recall_id, last.holder))
    )
    return AckPage(acknowledgements=records, after=cursor.text())


# ------------------------------------------------------------------ the regulator side


def load_cursor(services: Services, feed: str) -> str | None:
    """How far the pull of `feed` (`scans` or `acknowledgements`) got, as the feed's text."""
    return cursors.load_cursor(api_store(services).engine, feed)


def store_scans(services: Services, page: ScanPage, *, recheck: bool) -> int:
    """Write a page of the partner's scans into this side's `verification_scans`, then the
    cursor; with `recheck`, rows already written by a pull whose cursor was lost are
    skipped. Returns how many rows were written."""
    rows: list[PulledScan] = [
        (
            bytes.fromhex(s.item_id[2:]),
            s.scanned_at,
            s.location,
            s.scanner if s.scanner is not None else (MEMBER_UNNAMED if s.by_member else None),
        )
        for s in page.scans
    ]
    written = add_pulled_scans(services.engine, rows, recheck=recheck)
    cursors.save_cursor(api_store(services).engine, "scans", str(page.after))
    return written


def store_acknowledgements(services: Services, page: AckPage, *, position: AckCursor) -> int:
    """Write the acknowledgements this side does not have (the first one of a holder
    stands, as on the partner side) and the cursor `position`, in one transaction."""
    acks = [Acknowledgement(**a.model_dump()) for a in page.acknowledgements]
    return cursors.save_acknowledgements(
        api_store(services).engine, acks, feed="acknowledgements", position=position.text()
    )


# ------------------------------------------------------------------ master records


class MasterRecordOut(_Strict):
    master_hash: str = Field(pattern=_HASH, description="keccak256 the chain anchors")
    record: str = Field(max_length=32768, description="the record's canonical JSON")


class MasterRecordPage(_Strict):
    records: list[MasterRecordOut] = Field(max_length=MAX_MASTER_RECORDS)


def master_record_page(services: Services, hashes: list[bytes]) -> MasterRecordPage:
    """The partner side: the records this store holds among `hashes`."""
    found = master_records_by_hash(api_store(services).engine, hashes)
    return MasterRecordPage(
        records=[
            MasterRecordOut(master_hash="0x" + h.hex(), record=record)
            for h, record in found.items()
        ]
    )


class MasterCursor(tuple[int, str, int]):
    """(block, GTIN, version) up to which every anchored version is stored; text
    `block:gtin:version`."""

    @classmethod
    def parse(cls, text: str | None) -> MasterCursor:
        if not text:
            return cls((0, "", 0))
        block, gtin, version = text.split(":")
        return cls((int(block), gtin, int(version)))

    def text(self) -> str:
        return f"{self[0]}:{self[1]}:{self[2]}"


def missing_master_versions(
    services: Services, after: MasterCursor, *, limit: int
) -> tuple[list[AnchoredVersion], list[AnchoredVersion]]:
    """The regulator side: up to `limit` versions its read model saw anchored after
    `after`, in order, and those of them whose record this store lacks."""
    versions = anchored_after(services.engine, after, limit=limit)
    held = master_records_by_hash(api_store(services).engine, (v.master_hash for v in versions))
    return versions, [v for v in versions if v.master_hash not in held]


class MasterStored(BaseModel):
    stored: int
    refused: list[str]  # hashes whose record did not match its anchor, or was invalid
    complete: bool  # whether every version of the batch now has its record here


def store_master_records(
    services: Services,
    page: MasterRecordPage,
    *,
    wanted: list[AnchoredVersion],
    versions: list[AnchoredVersion],
    advance: bool = True,
) -> MasterStored:
    """Store each record of `page` that is one of the `wanted` anchored versions: its
    keccak256 must be the anchored hash and it must be a valid record of that version's
    GTIN. Then, with `advance` (no earlier version is missing), move the cursor past the
    versions (of `versions`, in order) all of whose records are now held."""
    by_hash = {v.master_hash: v for v in wanted}
    engine = api_store(services).engine
    stored, refused = 0, []
    for item in page.records:
        anchored = by_hash.get(bytes.fromhex(item.master_hash[2:]))
        if anchored is None or not _matches(item.record, anchored):
            refused.append(item.master_hash)
            continue
        put_master_record(
            engine,
            master_hash=anchored.master_hash,
            gtin=anchored.gtin,
            record=item.record,
            now=int(time.time()),
        )
        forget_names(services, anchored.gtin)
        stored += 1
    held = master_records_by_hash(engine, (v.master_hash for v in versions))
    reached: AnchoredVersion | None = None
    for v in versions:
        if v.master_hash not in held:
            break
        reached = v
    if advance and reached is not None:
        cursors.save_cursor(engine, "master_records", MasterCursor(reached.position).text())
    complete = reached is not None and reached == versions[-1]
    return MasterStored(stored=stored, refused=refused, complete=complete)


def _matches(record: str, anchored: AnchoredVersion) -> bool:
    """Whether `record` hashes to the anchor and is a valid record of its GTIN."""
    if bytes(keccak(record.encode())) != anchored.master_hash:
        return False
    try:
        return MasterRecord.model_validate_json(record).gtin == anchored.gtin
    except ValidationError:
        return False


# ------------------------------------------------------------------ sealed records
#
# A record is sealed in the store of the deployment that wrote it (`domain.records`). The
# partner API serves the regulator every record (all are sealed for the regulator group)
# opened: its salt and canonical body, so the regulator's deployment checks it against its
# commitment (`records.matches`) and stores it re-sealed under its own master key with the
# same id and commitment (`records.import_opened`): what is on chain still matches, and
# its exports, record checks and recall centre read it. The other way, records the
# regulator's deployment wrote itself (a recall it ordered: the notice) are posted to the
# partner API (`POST /v1/partner/oversight/records`), checked there the same way, so
# holders read the notice there. Both directions page by (created_at, id) and ask again
# from `OVERLAP_SECONDS` before the newest they have (a record sealed a moment before
# another may commit after it; its anchor is set after the chain took it): records already
# held are skipped, only parties and an anchor they lacked are added.

MAX_RECORD_PAGE = 20  # records per page: a body is at most records.MAX_RECORD_BYTES
_PAGE_BUDGET = 1024 * 1024  # bytes of bodies in one page (a page holds at least one)
_RECORD_ID = r"^[0-9a-f]{32}$"
_PARTY = r"^(0x[0-9a-f]{40}|regulator)$"


class RecordOut(_Strict):
    """One sealed record, opened for the regulator's deployment."""

    id: str = Field(pattern=_RECORD_ID)
    kind: records.RecordKind
    author: str = Field(pattern=r"^0x[0-9a-f]{40}$")
    subject_id: str = Field(pattern=r"^0x([0-9a-f]{2}){0,64}$")
    commitment: str = Field(pattern=_HASH)
    salt: str = Field(pattern=_HASH)
    created_at: int = Field(ge=0, le=2**62)
    anchored_tx: str | None = Field(default=None, pattern=_HASH)
    readers: list[Annotated[str, Field(pattern=_PARTY)]] = Field(
        max_length=records.MAX_PARTIES, description="every party it is sealed for"
    )
    body: str = Field(max_length=records.MAX_RECORD_BYTES, description="canonical JSON")

    def stored(self) -> records.SealedRecord:
        return records.SealedRecord(
            self.id,
            str(self.kind),
            self.author,
            bytes.fromhex(self.subject_id[2:]),
            bytes.fromhex(self.commitment[2:]),
            self.anchored_tx,
            self.created_at,
        )


class RecordCursor(tuple[int, str]):
    """(created_at, id) of the last record read; text `created_at:id`."""

    PATTERN = r"^[0-9]{1,19}:([0-9a-f]{32})?$"

    @classmethod
    def parse(cls, text: str | None) -> RecordCursor:
        if not text:
            return cls((0, ""))
        at, record_id = text.split(":")
        return cls((int(at), record_id))

    def text(self) -> str:
        return f"{self[0]}:{self[1]}"

    def rewound(self, seconds: int) -> RecordCursor:
        return RecordCursor((max(0, self[0] - seconds), ""))


class RecordPage(_Strict):
    records: list[RecordOut] = Field(max_length=MAX_RECORD_PAGE)
    after: str = Field(pattern=RecordCursor.PATTERN, description="ask again with this")
    more: bool = Field(description="whether records after `after` may be waiting")


class RecordStored(_Strict):
    stored: bool  # False: this side held it already


def opened_records(
    services: Services, after: RecordCursor, *, limit: int, author: str | None = None
) -> RecordPage:
    """Records after `after` in (created_at, id) order, opened (salt and canonical body),
    at most `limit` and about `_PAGE_BUDGET` bytes of bodies; with `author`, only that
    author's (what the regulator's deployment wrote itself)."""
    rows = stored_records.records_after(
        api_store(services).engine, after, limit=limit, author=author
    )
    out: list[RecordOut] = []
    size = 0
    for row, parties in rows:
        salt, plaintext = records.opening(services, row.record.id)
        if out and size + len(plaintext) > _PAGE_BUDGET:
            break
        size += len(plaintext)
        r = row.record
        out.append(
            RecordOut(
                id=r.id,
                kind=records.RecordKind(r.kind),
                author=r.author,
                subject_id="0x" + r.subject_id.hex(),
                commitment="0x" + r.commitment.hex(),
                salt="0x" + salt.hex(),
                created_at=r.created_at,
                anchored_tx=r.anchored_tx,
                readers=parties,
                body=plaintext.decode(),
            )
        )
    last = RecordCursor((out[-1].created_at, out[-1].id)) if out else after
    return RecordPage(
        records=out, after=last.text(), more=len(rows) == limit or len(out) < len(rows)
    )


def import_record(services: Services, item: RecordOut) -> bool:
    """Store one opened record from the other deployment: checked against its commitment
    and re-sealed here (`records.import_opened`; `Unprocessable` when it does not match,
    nothing stored). True if stored, False if held already."""
    return records.import_opened(
        services,
        item.stored(),
        salt=bytes.fromhex(item.salt[2:]),
        plaintext=item.body.encode(),
        parties=item.readers,
    )


class RecordsStored(BaseModel):
    stored: int
    refused: list[str]  # ids of records that did not match their commitment


def store_records(services: Services, page: RecordPage, *, position: RecordCursor) -> RecordsStored:
    """The regulator side: store each record of `page` that matches its commitment (one
    that does not is refused, never stored), then save the cursor `position`."""
    stored, refused = 0, []
    for item in page.records:
        try:
            stored += import_record(services, item)
        except ApiError:
            refused.append(item.id)
    cursors.save_cursor(api_store(services).engine, "records", position.text())
    return RecordsStored(stored=stored, refused=refused)


def save_records_cursor(services: Services, feed: str, position: RecordCursor) -> None:
    cursors.save_cursor(api_store(services).engine, feed, position.text())
