"""The audit trail: who did what, for which organisation, on what, with what outcome, and
when; append-only and hash-chained, its head anchored on chain.

Every organisation has its own chain (`chain` = its checksummed address; sign-in attempts
of no known user go to the chain "-"). Entry n commits to entry n-1:

    entry_hash(n) = sha256(entry_hash(n-1) ‖ canonical JSON of entry n's fields)

with 32 zero bytes before the first. `record` appends (the faces call it from one
middleware, `web.audit_trail`, and for sign-in and sign-out); every `audit_anchor_every`
entries (and on demand, `anchor`) the chain head is sealed as a record of kind
`AUDIT_BATCH` (`domain.records`: body {chain, seq, head}, readable by the organisation and
the regulator) and its salted commitment anchored with `Records.anchorDocument` by the
organisation's own key, so the chain shows when a log existed without saying anything
about it. `verify` recomputes every chain: an edited entry breaks its own
hash, a deleted or inserted one breaks the sequence or the link, and an anchor whose
entry no longer has the anchored hash (a rewritten history) is reported; with the chain
reachable it also checks that each anchor is on chain, anchored by the organisation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from eth_utils import keccak, to_checksum_address
from sqlalchemy import Engine

from medledger.domain import records
from medledger.domain.chain import custodial_ledger, reader
from medledger.domain.errors import NotConfigured
from medledger.domain.services import Services
from medledger.domain.store import api_store
from medledger.indexer.store import audit as store
from medledger.indexer.store.audit import AnchorRow, EntryRow

__all__ = [
    "AUDIT_BATCH_KIND",
    "ChainReport",
    "EntryRow",
    "anchor",
    "entries",
    "entry_hash",
    "record",
    "verify",
    "verify_store",
]

log = logging.getLogger(__name__)

# Records.anchorDocument's kind for an audit batch (the records store's).
AUDIT_BATCH_KIND = records.ANCHOR_KINDS[records.RecordKind.AUDIT_BATCH]
ANONYMOUS = "-"
LIMITS = {"username": 64, "role": 16, "action": 200, "object": 500, "outcome": 40}


def _canonical(chain: str, seq: int, at: int, fields: dict[str, str]) -> bytes:
    data = {"chain": chain, "seq": seq, "at": at, **fields}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(prev: bytes, chain: str, seq: int, at: int, fields: dict[str, str]) -> bytes:
    return hashlib.sha256(prev + _canonical(chain, seq, at, fields)).digest()


def _fields(row: EntryRow) -> dict[str, str]:
    return {name: getattr(row, name) for name in LIMITS}


def chain_of(organisation: str | None) -> str:
    return to_checksum_address(organisation) if organisation else ANONYMOUS


def record(
    services: Services,
    *,
    organisation: str | None,
    username: str,
    role: str,
    action: str,
    object: str = "",
    outcome: str = "ok",
) -> EntryRow:
    """Append one entry to the organisation's chain (texts cut to their column's length);
    every `audit_anchor_every` entries, anchor the head (a failure to anchor is logged and
    tried again at the next multiple, never lost with the request)."""
    chain = chain_of(organisation)
    values = {"username": username, "role": role, "action": action, "object": object,
              "outcome": outcome}  # fmt: skip
    fields = {k: str(v)[: LIMITS[k]] for k, v in values.items()}
    at = int(time.time())

    def make(seq: int, prev: bytes) -> EntryRow:
        digest = entry_hash(prev, chain, seq, at, fields)
        return EntryRow(chain, seq, at, prev_hash=prev, entry_hash=digest, **fields)

    entry = store.append_entry(api_store(services).engine, chain, make)
    every = services.settings.audit_anchor_every
    if chain != ANONYMOUS and every and entry.seq % every == 0:
        try:
            anchor(services, chain)
        except Exception:  # the entry stands; the next batch anchors the head
            log.exception("audit chain %s: anchoring entry %s failed", chain, entry.seq)
    return entry


def anchor(services: Services, organisation: str) -> AnchorRow | None:
    """Anchor `organisation`'s chain head on chain with its own key (its custodial key, or
    in regulator mode the regulator's); None when there is nothing new to anchor."""
    chain = chain_of(organisation)
    engine = api_store(services).engine
    seq, head = store.chain_head(engine, chain)
    done = store.anchors_of(engine, chain)
    if seq == 0 or (done and done[-1].seq >= seq):
        return None
    subject = keccak(b"medledger/audit/" + chain.encode())
    if services.settings.regulator:
        from medledger.domain.regulator import regulator_ledger

        ledger = regulator_ledger(services)
        if to_checksum_address(ledger.account.address) != chain:
            raise NotConfigured("audit_anchor_key", f"no key of {chain} here")
    else:
        ledger = custodial_ledger(services, chain)
    sealed = records.seal(
        services,
        kind=records.RecordKind.AUDIT_BATCH,
        author=chain,
        readers=(),
        subject_id=subject,
        body=_batch(chain, seq, head),
    )
    sealed = records.anchor(services, sealed, ledger=ledger)
    salt, _ = records.opening(services, sealed.id)
    row = AnchorRow(chain, seq, head, salt, sealed.commitment, str(sealed.anchored_tx),
                    int(time.time()))  # fmt: skip
    store.add_anchor(engine, row)
    return row


def _batch(chain: str, seq: int, head: bytes) -> dict[str, object]:
    """The body of an audit batch record: which chain, up to which entry, its hash."""
    return {"chain": chain, "seq": seq, "head": "0x" + head.hex()}


@dataclass
class ChainReport:
    """What `verify` found in one chain."""

    chain: str
    entries: int = 0
    anchors: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(
    services: Services, *, chain: str | None = None, on_chain: bool = True
) -> list[ChainReport]:
    """Recompute every chain (or one) and check its anchors; see the module doc."""
    ledger = reader(services) if on_chain else None
    return verify_store(
        api_store(services).engine,
        chain=chain,
        anchored_by=(lambda c: str(ledger.anchor(c)["anchored_by"])) if ledger else None,
    )


def verify_store(
    engine: Engine, *, chain: str | None = None, anchored_by: Callable[[bytes], str] | None = None
) -> list[ChainReport]:
    """`verify` on an explicit database (`ApiStore.engine`), for tools without the API's
    services (`medledger audit verify`); `anchored_by(commitment)` reads the chain."""
    names = (
        [chain_of(chain) if chain != ANONYMOUS else ANONYMOUS] if chain else store.chains(engine)
    )
    reports = []
    for name in names:
        report = ChainReport(name)
        hashes: dict[int, bytes] = {}
        expected_seq, prev = 1, store.GENESIS
        for row in store.chain_entries(engine, name):
            report.entries += 1
            if row.seq != expected_seq:
                report.problems.append(f"entry {expected_seq} is missing (next is {row.seq})")
            if row.prev_hash != prev:
                report.problems.append(f"entry {row.seq} does not follow the entry before it")
            if entry_hash(row.prev_hash, name, row.seq, row.at, _fields(row)) != row.entry_hash:
                report.problems.append(f"entry {row.seq} was changed after it was written")
            hashes[row.seq] = row.entry_hash
            expected_seq, prev = row.seq + 1, row.entry_hash
        for anchored in store.anchors_of(engine, name):
            report.anchors += 1
            if hashes.get(anchored.seq) != anchored.head_hash:
                report.problems.append(
                    f"entry {anchored.seq}, anchored in {anchored.tx_hash}, is not as anchored"
                )
            opened = records.canonical(_batch(name, anchored.seq, anchored.head_hash))
            if not records.matches(anchored.commitment, anchored.salt, opened):
                report.problems.append(f"the anchor of entry {anchored.seq} does not open")
            elif anchored_by is not None and name != ANONYMOUS:
                if to_checksum_address(anchored_by(anchored.commitment)) != name:
                    report.problems.append(f"the anchor of entry {anchored.seq} is not on chain")
        reports.append(report)
    return reports


def entries(
    services: Services,
    *,
    organisation: str | None,
    username: str | None = None,
    action: str | None = None,
    since: int | None = None,
    until: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[EntryRow], int]:
    """Entries newest first, and how many match: `organisation` None reads every chain
    (the regulator's view); the caller decides who may read which."""
    return store.find_entries(
        api_store(services).engine,
        chain=chain_of(organisation) if organisation else None,
        username=username or None,
        action=action or None,
        since=since,
        until=until,
        limit=max(1, min(limit, 500)),
        offset=max(0, offset),
    )
