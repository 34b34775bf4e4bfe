"""The capture log: each captured EPCIS event's hash, what it applied and its state, so a
document posted twice is applied once and the log says what happened on the chain.

States: `pending` (claimed by a capture now running), `captured` (every operation applied;
`operations` and `tx_hashes` list them), `partial` (the ledger refused the event after some
of its operations were applied: those are listed; posting the document again claims it
anew and applies the rest). An event that applied nothing is not in the log.

The events of a document are claimed together (`claim_all`) after the capture has checked
and rehearsed them, so two concurrent captures of one document cannot both apply it. The
table lives in `settings.epcis_db_url` (default SQLite under `data_dir`); rows written
before `state` and `operations` existed read as captured (or pending without tx hashes).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from api.services import Services

__all__ = ["NEW_EVENT", "CaptureStore", "EventState", "capture_store"]

PENDING, CAPTURED, PARTIAL = "pending", "captured", "partial"

_metadata = MetaData()
captures = Table(
    "epcis_captures",
    _metadata,
    Column("event_hash", String(100), primary_key=True),
    Column("member", String(42), nullable=False),
    Column("claimed_at", BigInteger, nullable=False),
    Column("tx_hashes", Text, nullable=True),  # JSON list; NULL while first pending
    Column("state", String(10), nullable=True),  # NULL in rows older than the column
    Column("operations", Text, nullable=True),  # JSON list of applied operation names
)
_ADDED = {"state": "VARCHAR(10)", "operations": "TEXT"}


@dataclass(frozen=True, slots=True)
class EventState:
    state: str
    operations: tuple[str, ...] = ()
    tx_hashes: tuple[str, ...] = ()

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


class CaptureStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        _metadata.create_all(engine)
        present = {c["name"] for c in inspect(engine).get_columns(captures.name)}
        with engine.begin() as conn:
            for name, sql_type in _ADDED.items():
                if name not in present:
                    conn.execute(text(f"ALTER TABLE {captures.name} ADD COLUMN {name} {sql_type}"))

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
            ).where(captures.c.event_hash.in_(set(event_hashes)))
        )
        found: dict[str, EventState] = {}
        for digest, state, operations, tx_hashes in rows:
            state = state or (CAPTURED if tx_hashes is not None else PENDING)
            found[str(digest)] = EventState(state, _load(operations), _load(tx_hashes))
        return found

    def claim_all(self, event_hashes: Sequence[str], member: str) -> set[str]:
        """Claim every new or partial event of `event_hashes` for `member`, all or none.
        Returns the hashes another capture holds or finished meanwhile (then nothing is
        claimed); an empty set when all are now ours."""
        try:
            with self.engine.begin() as conn:
                known = self._states(conn, event_hashes)
                taken = {h for h, s in known.items() if s.state != PARTIAL}
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
                    changed = conn.execute(
                        update(captures)
                        .where(captures.c.event_hash == digest, captures.c.state == PARTIAL)
                        .values(state=PENDING, member=member, claimed_at=now)
                    )
                    if changed.rowcount != 1:
                        conn.rollback()
                        return {digest}
        except IntegrityError:  # a concurrent capture inserted one of them first
            return set(event_hashes)
        return set()

    def done(self, event_hash: str, operations: list[str], tx_hashes: list[str]) -> None:
        """The claimed event is captured: `operations` (after any of an earlier partial
        capture) were applied by `tx_hashes`."""
        self._record(event_hash, CAPTURED, operations, tx_hashes)

    def stopped(self, event_hash: str, operations: list[str], tx_hashes: list[str]) -> None:
        """The claimed event stopped after applying `operations` (maybe none): partial if
        anything of it was ever applied, else released."""
        state = self.states([event_hash]).get(event_hash)
        if operations or (state is not None and state.operations):
            self._record(event_hash, PARTIAL, operations, tx_hashes)
        else:
            self.release(event_hash)

    def _record(
        self, event_hash: str, state: str, operations: list[str], tx_hashes: list[str]
    ) -> None:
        with self.engine.begin() as conn:
            before = self._states(conn, [event_hash]).get(event_hash)
            earlier = before if before is not None and before.operations else NEW_EVENT
            conn.execute(
                update(captures)
                .where(captures.c.event_hash == event_hash)
                .values(
                    state=state,
                    operations=json.dumps([*earlier.operations, *operations]),
                    tx_hashes=json.dumps([*earlier.tx_hashes, *tx_hashes]),
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
                    .values(state=PARTIAL)
                )
                return
            conn.execute(delete(captures).where(captures.c.event_hash == event_hash))

    def tx_hashes(self, event_hash: str) -> list[str]:
        state = self.states([event_hash]).get(event_hash)
        return [] if state is None else list(state.tx_hashes)


def capture_store(services: Services) -> CaptureStore:
    found = services.extras.get("epcis.store")
    if found is None:
        url = services.settings.epcis_db_url
        if url is None:
            services.settings.data_dir.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{services.settings.data_dir / 'epcis.db'}"
        found = CaptureStore(create_engine(url))
        services.extras["epcis.store"] = found
    assert isinstance(found, CaptureStore)
    return found
