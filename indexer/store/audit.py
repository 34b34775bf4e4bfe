"""The audit trail's rows (`api_audit_log`, `api_audit_anchors`): append-only hash chains,
one per organisation. This module only inserts and reads; nothing here updates or deletes
an entry (`domain.audit` computes the hashes and verifies the chains)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from medledger.indexer.store.tables import audit_anchors, audit_log

__all__ = [
    "AnchorRow",
    "EntryRow",
    "add_anchor",
    "anchors_of",
    "append_entry",
    "chain_entries",
    "chain_head",
    "chains",
    "find_entries",
]

GENESIS = b"\x00" * 32


@dataclass(frozen=True, slots=True)
class EntryRow:
    chain: str
    seq: int
    at: int
    username: str
    role: str
    action: str
    object: str
    outcome: str
    prev_hash: bytes
    entry_hash: bytes


@dataclass(frozen=True, slots=True)
class AnchorRow:
    chain: str
    seq: int
    head_hash: bytes
    salt: bytes
    commitment: bytes
    tx_hash: str
    anchored_at: int


_ENTRY = tuple(audit_log.c[name] for name in EntryRow.__slots__)
_ANCHOR = tuple(audit_anchors.c[name] for name in AnchorRow.__slots__)


def _entry(row: object) -> EntryRow:
    return EntryRow(*row)  # type: ignore[misc]


def chain_head(engine: Engine, chain: str) -> tuple[int, bytes]:
    """(the last sequence number, its hash) of `chain`; (0, 32 zero bytes) when empty."""
    with engine.connect() as conn:
        row = conn.execute(
            select(audit_log.c.seq, audit_log.c.entry_hash)
            .where(audit_log.c.chain == chain)
            .order_by(audit_log.c.seq.desc())
            .limit(1)
        ).first()
    return (0, GENESIS) if row is None else (int(row[0]), bytes(row[1]))


def append_entry(
    engine: Engine, chain: str, make: Callable[[int, bytes], EntryRow], *, tries: int = 50
) -> EntryRow:
    """Append the entry `make(seq, prev_hash)` builds at the head of `chain`; the primary
    key (chain, seq) makes a concurrent append lose and try again on the new head."""
    for _ in range(tries):
        seq, prev = chain_head(engine, chain)
        entry = make(seq + 1, prev)
        try:
            with engine.begin() as conn:
                conn.execute(
                    insert(audit_log).values(
                        {name: getattr(entry, name) for name in EntryRow.__slots__}
                    )
                )
        except IntegrityError:
            continue
        return entry
    raise RuntimeError(f"audit chain {chain}: could not append after {tries} tries")


def chain_entries(engine: Engine, chain: str) -> Iterator[EntryRow]:
    """Every entry of `chain` by sequence number, read in pages."""
    after, page = 0, 1000
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                select(*_ENTRY)
                .where(audit_log.c.chain == chain, audit_log.c.seq > after)
                .order_by(audit_log.c.seq)
                .limit(page)
            ).all()
        for row in rows:
            yield _entry(row)
        if len(rows) < page:
            return
        after = int(rows[-1][1])


def chains(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.chain).distinct().order_by(audit_log.c.chain))
        return [str(r[0]) for r in rows]


def find_entries(
    engine: Engine,
    *,
    chain: str | None = None,
    username: str | None = None,
    action: str | None = None,
    since: int | None = None,
    until: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[EntryRow], int]:
    """Entries matching every filter given (action: a substring), newest first, and how many
    match in all."""
    c = audit_log.c
    where = []
    if chain is not None:
        where.append(c.chain == chain)
    if username:
        where.append(c.username == username)
    if action:
        where.append(c.action.contains(action, autoescape=True))
    if since is not None:
        where.append(c.at >= since)
    if until is not None:
        where.append(c.at <= until)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(audit_log).where(*where)).scalar()
        rows = conn.execute(
            select(*_ENTRY)
            .where(*where)
            .order_by(c.at.desc(), c.chain, c.seq.desc())
            .limit(limit)
            .offset(offset)
        ).all()
    return [_entry(r) for r in rows], int(total or 0)


def add_anchor(engine: Engine, anchor: AnchorRow) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(audit_anchors).values(
                {name: getattr(anchor, name) for name in AnchorRow.__slots__}
            )
        )


def anchors_of(engine: Engine, chain: str) -> list[AnchorRow]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(*_ANCHOR).where(audit_anchors.c.chain == chain).order_by(audit_anchors.c.seq)
        ).all()
    return [AnchorRow(*r) for r in rows]
