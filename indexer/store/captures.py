"""The capture log: each captured EPCIS event's hash, what it applied and its state, so a
document posted twice is applied once and the log says what happened on the chain.

States: `pending` (claimed by a capture now running), `captured` (every operation applied;
`operations` and `tx_hashes` list them), `partial` (the ledger refused the event after some
of its operations were applied: those are listed; posting the document again claims it
anew and applies the rest). An event that applied nothing is not in the log.

The events of a document are claimed together (`claim_all`) after the capture has checked
and rehearsed them, so two concurrent captures of one document cannot both apply it. A
running capture logs each operation as it is mined (`applied`) and, before it sends one,
the operation and the member's next nonce (`sending`); both renew the claim. A claim not
renewed for `CLAIM_EXPIRES_AFTER` seconds (far longer than one operation's worst case: its
receipt wait and the wait for the member's earlier transactions) belongs to a capture that
died: a new capture of the same events takes it over (`expired`, `claim_all`), after
settling the operation that was being sent from the chain (`settle`, see `api.epcis.capture`).

The table lives in `settings.epcis_db_url` (default SQLite under `data_dir`), migrated when
a store opens it (`indexer.store.engine.CAPTURE_LOG`); rows written before `state` and
`operations` existed read as captured (or pending without tx hashes).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from medledger.indexer.store.engine import CAPTURE_LOG, migrate_store
from medledger.indexer.store.tables import captures

__all__ = [
    "CLAIM_EXPIRES_AFTER",
    "NEW_EVENT",
    "CaptureStore",
    "EventState",
    "Sending",
]

PENDING, CAPTURED, PARTIAL = "pending", "captured", "partial"
CLAIM_EXPIRES_AFTER = 300
"""Seconds after which a pending claim nobody renewed may be taken over."""


@dataclass(frozen=True, slots=True)
class Sending:
    """The operation a capture was sending: the member's transaction nonce it would take,
    and the latest block when it was logged (the transaction cannot be mined before)."""

    operation: str
    nonce: int
    block: int


@dataclass(frozen=True, slots=True)
class EventState:
    state: str
    operations: tuple[str, ...] = ()
    tx_hashes: tuple[str, ...] = ()
    claimed_at: int = 0
    sending: Sending | None = None

    @property
    def pending(self) -> bool:
        return self.state == PENDING

    @property
    def captured(self) -> bool:
        return self.state == CAPTURED


NEW_EVENT = EventState("new")
"""The state of an event the log does not hold."""


def _load(value: str | None) -> tuple[str, ...]:
    return tuple(str(v) for v in json.loads(value)) if value else ()


def _sending(value: str | None) -> Sending | None:
    if not value:
        return None
    operation, nonce, block = json.loads(value)
    return Sending(str(operation), int(nonce), int(block))


class CaptureStore:
    def __init__(self, engine: Engine, *, claim_expires_after: int = CLAIM_EXPIRES_AFTER) -> None:
        self.engine = engine
        self.claim_expires_after = claim_expires_after
        migrate_store(engine.url.render_as_string(hide_password=False), CAPTURE_LOG)

    def states(self, event_hashes: Sequence[str]) -> dict[str, EventState]:
        """The logged state of each of `event_hashes` that is in the log."""
        with self.engine.connect() as conn:
            return self._states(conn, event_hashes)

    @staticmethod
    def _states(conn: Connection, event_hashes: Sequence[str]) -> dict[str, EventState]:
        rows = conn.execute(
            select(
                captures.c.event_hash,
                captures.c.state,
                captures.c.operations,
                captures.c.tx_hashes,
                captures.c.claimed_at,
                captures.c.sending,
            ).where(captures.c.event_hash.in_(set(event_hashes)))
        )
        found: dict[str, EventState] = {}
        for digest, state, operations, tx_hashes, claimed_at, sending in rows:
            state = state or (CAPTURED if tx_hashes is not None else PENDING)
            found[str(digest)] = EventState(
                state, _load(operations), _load(tx_hashes), int(claimed_at), _sending(sending)
            )
        return found

    def expired(self, state: EventState) -> bool:
        """A pending claim nobody renewed for `claim_expires_after` seconds."""
        return state.pending and time.time() - state.claimed_at >= self.claim_expires_after

    def claim_all(self, event_hashes: Sequence[str], member: str) -> set[str]:
        """Claim every new, partial or expired event of `event_hashes` for `member`, all or
        none. Returns the hashes another capture holds or finished meanwhile (then nothing
        is claimed); an empty set when all are now ours."""
        try:
            with self.engine.begin() as conn:
                known = self._states(conn, event_hashes)
                taken = {h for h, s in known.items() if s.state != PARTIAL and not self.expired(s)}
                if taken:
                    conn.rollback()
                    return taken
                now = int(time.time())
                for digest in event_hashes:
                    if digest not in known:
                        conn.execute(
                            insert(captures).values(
                                event_hash=digest, member=member, claimed_at=now, state=PENDING
                            )
                        )
                        continue
                    seen = known[digest]
                    changed = conn.execute(
                        update(captures)
                        .where(
                            captures.c.event_hash == digest,
                            or_(captures.c.state == seen.state, captures.c.state.is_(None)),
                            captures.c.claimed_at == seen.claimed_at,
                        )
                        .values(state=PENDING, member=member, claimed_at=now)
                    )
                    if changed.rowcount != 1:
                        conn.rollback()
                        return {digest}
        except IntegrityError:  # a concurrent capture inserted one of them first
            return set(event_hashes)
        return set()

    def sending(self, event_hash: str, operation: str, *, nonce: int, block: int) -> None:
        """The claimed event's `operation` is about to be sent with the member's `nonce`,
        `block` being the latest; renews the claim."""
        with self.engine.begin() as conn:
            conn.execute(
                update(captures)
                .where(captures.c.event_hash == event_hash)
                .values(sending=json.dumps([operation, nonce, block]), claimed_at=int(time.time()))
            )

    def applied(self, event_hash: str, operation: str, tx_hash: str) -> None:
        """The claimed event's `operation` was mined in `tx_hash`; renews the claim."""
        self._record(event_hash, PENDING, [operation], [tx_hash], claimed_at=int(time.time()))

    def settle(self, event_hash: str, seen: EventState, *, tx_hash: str | None) -> bool:
        """Close an expired claim's `sending` operation as the chain has it: applied in
        `tx_hash`, or never (None). False if another capture settled or took it first."""
        if seen.sending is None:
            return False
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(captures)
                .where(
                    captures.c.event_hash == event_hash,
                    captures.c.state == PENDING,
                    captures.c.claimed_at == seen.claimed_at,
                    captures.c.sending.is_not(None),
                )
                .values(sending=None)
            )
            if changed.rowcount != 1:
                return False
            if tx_hash is not None:
                self._append(conn, event_hash, PENDING, [seen.sending.operation], [tx_hash])
        return True

    def done(
        self, event_hash: str, operations: Sequence[str] = (), tx_hashes: Sequence[str] = ()
    ) -> None:
        """The claimed event is captured: every operation logged by `applied` (and any
        `operations` given, applied by `tx_hashes`)."""
        self._record(event_hash, CAPTURED, operations, tx_hashes)

    def stopped(
        self, event_hash: str, operations: Sequence[str] = (), tx_hashes: Sequence[str] = ()
    ) -> None:
        """The claimed event stopped after applying `operations` (maybe none): partial if
        anything of it was ever applied, else released."""
        state = self.states([event_hash]).get(event_hash)
        if operations or (state is not None and state.operations):
            self._record(event_hash, PARTIAL, operations, tx_hashes)
        else:
            self.release(event_hash)

    def _record(
        self,
        event_hash: str,
        state: str,
        operations: Sequence[str],
        tx_hashes: Sequence[str],
        **values: object,
    ) -> None:
        with self.engine.begin() as conn:
            self._append(conn, event_hash, state, operations, tx_hashes, sending=None, **values)

    def _append(
        self,
        conn: Connection,
        event_hash: str,
        state: str,
        operations: Sequence[str],
        tx_hashes: Sequence[str],
        **values: object,
    ) -> None:
        before = self._states(conn, [event_hash]).get(event_hash)
        earlier = before if before is not None and before.operations else NEW_EVENT
        conn.execute(
            update(captures)
            .where(captures.c.event_hash == event_hash)
            .values(
                state=state,
                operations=json.dumps([*earlier.operations, *operations]),
                tx_hashes=json.dumps([*earlier.tx_hashes, *tx_hashes]),
                **values,
            )
        )

    def release(self, event_hash: str) -> None:
        """Forget a claimed event that applied nothing (a partial one goes back to partial)."""
        with self.engine.begin() as conn:
            before = self._states(conn, [event_hash]).get(event_hash)
            if before is not None and before.operations:
                conn.execute(
                    update(captures)
                    .where(captures.c.event_hash == event_hash)
                    .values(state=PARTIAL, sending=None)
                )
                return
            conn.execute(delete(captures).where(captures.c.event_hash == event_hash))

    def tx_hashes(self, event_hash: str) -> list[str]:
        state = self.states([event_hash]).get(event_hash)
        return [] if state is None else list(state.tx_hashes)
