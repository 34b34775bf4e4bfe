"""The portal's notification centre (for people without an ERP): the newest events a
member may see (`domain.events`' entitlement: a member its audience's, the regulator
all), newest first, and each user's read position (`indexer.store.notification_reads`),
so the unread count is per user, not per organisation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from medledger.domain.auth import Member
from medledger.domain.events import (
    EventFilter,
    EventKind,
    LedgerEvent,
    event_json,
    event_names,
    read_events,
)
from medledger.domain.services import Services
from medledger.domain.store import api_store
from medledger.indexer.queries.event_feed import count_after, newest_seqs
from medledger.indexer.queries.events import organisation_id
from medledger.indexer.store.notification_reads import mark_read_up_to, read_up_to

__all__ = ["PAGE", "UNREAD_CAP", "Feed", "mark_read", "newest", "unread_count"]

PAGE: Final = 50  # events on the page, and at most per poll
UNREAD_CAP: Final = 100  # counted up to this many ("99+" beyond)


@dataclass(frozen=True, slots=True)
class Feed:
    """Events newest first, each with its wire shape (`event_json`: names beside
    addresses), the user's read position and its unread count."""

    events: list[tuple[LedgerEvent, dict[str, Any]]]
    read_seq: int
    unread: int

    @property
    def newest_seq(self) -> int:
        return self.events[0][0].seq if self.events else 0


def _scope(conn: Any, member: Member) -> tuple[bool, int | None]:
    """(whether the member has any events at all, its organisation id; None: all)."""
    if member.is_regulator:
        return True, None
    org = organisation_id(conn, member.address)
    return org is not None, org


def newest(
    services: Services,
    member: Member,
    username: str,
    *,
    kinds: Sequence[EventKind] = (),
    after: int = 0,
    limit: int = PAGE,
) -> Feed:
    """The newest `limit` events after seq `after` the member may see, of `kinds`."""
    filter = EventFilter(kinds=tuple(kinds))
    read_seq = read_up_to(api_store(services).engine, username)
    with services.engine.connect() as conn:
        visible, org = _scope(conn, member)
        if not visible:
            return Feed([], read_seq, 0)
        seqs = [s for s in newest_seqs(conn, org, [str(k) for k in kinds], limit) if s > after]
        events: list[LedgerEvent] = []
        if seqs:  # the visible events from the oldest of them on are exactly these
            events = read_events(
                conn,
                chain_id=services.deployment.chain_id,
                member=member,
                after=seqs[-1] - 1,
                filter=filter,
                limit=len(seqs),
            )
        events.reverse()
        names = event_names(conn, events)
        unread = count_after(conn, org, read_seq, UNREAD_CAP)
    return Feed([(e, event_json(e, names)) for e in events], read_seq, unread)


def unread_count(services: Services, member: Member, username: str) -> int:
    read_seq = read_up_to(api_store(services).engine, username)
    with services.engine.connect() as conn:
        visible, org = _scope(conn, member)
        return count_after(conn, org, read_seq, UNREAD_CAP) if visible else 0


def mark_read(services: Services, member: Member, username: str, up_to: int) -> None:
    """Everything up to seq `up_to` (what the user's page showed, at most the newest
    event the member may see) is read by `username`."""
    with services.engine.connect() as conn:
        visible, org = _scope(conn, member)
        newest_visible = newest_seqs(conn, org, (), 1) if visible else []
    if newest_visible:
        mark_read_up_to(api_store(services).engine, username, min(up_to, newest_visible[0]))
