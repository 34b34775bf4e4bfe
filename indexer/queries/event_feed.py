"""Reads of the event outbox for its two feeds beside the webhooks: who is entitled to
each event (the AMQP binding publishes one message per entitled member) and the newest
events a member may see, and how many it has not read (the portal's notification centre).
Entitlement is the outbox's own: a member its `ledger_event_audience` rows, the
regulator (organisation None) every event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from medledger.indexer.db import Sql

__all__ = ["audience_addresses", "count_after", "newest_seqs"]


def audience_addresses(conn: Connection, first: int, last: int) -> dict[int, list[str]]:
    """The addresses of the members entitled to each event with seq in [first, last]."""
    rows = Sql(conn).rows(
        "SELECT a.seq, o.address FROM ledger_event_audience a "
        "JOIN organisations o ON o.id = a.organisation_id "
        "WHERE a.seq >= ? AND a.seq <= ? ORDER BY a.seq, o.address",
        (first, last),
    )
    found: dict[int, list[str]] = {}
    for seq, address in rows:
        found.setdefault(int(seq), []).append(str(address))
    return found


def _visible(organisation_id: int | None, kinds: Sequence[str]) -> tuple[str, list[Any]]:
    """The FROM … WHERE of the events `organisation_id` may see, of `kinds` (empty: all)."""
    params: list[Any] = []
    sql = "FROM ledger_events e"
    if organisation_id is not None:
        sql += " JOIN ledger_event_audience a ON a.seq = e.seq AND a.organisation_id = ?"
        params.append(organisation_id)
    sql += " WHERE 1 = 1"
    if kinds:
        sql += f" AND e.kind IN ({','.join('?' * len(kinds))})"
        params.extend(kinds)
    return sql, params


def newest_seqs(
    conn: Connection, organisation_id: int | None, kinds: Sequence[str], limit: int
) -> list[int]:
    """The seqs of the newest `limit` events the member may see, newest first."""
    sql, params = _visible(organisation_id, kinds)
    rows = Sql(conn).rows(f"SELECT e.seq {sql} ORDER BY e.seq DESC LIMIT ?", [*params, limit])
    return [int(r[0]) for r in rows]


def count_after(conn: Connection, organisation_id: int | None, after: int, cap: int) -> int:
    """How many events after `after` the member may see, counted up to `cap`."""
    sql, params = _visible(organisation_id, ())
    inner = f"SELECT e.seq {sql} AND e.seq > ? LIMIT ?"
    return int(Sql(conn).one(f"SELECT COUNT(*) FROM ({inner}) t", [*params, after, cap]))
