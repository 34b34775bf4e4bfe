"""The hashes of captured EPCIS events, so a document posted twice is applied once.

A hash is claimed (inserted as pending) before its ledger operations run and released if
they fail, so two concurrent captures of one event cannot both apply it. The table lives
in `settings.epcis_db_url` (default SQLite under `data_dir`).
"""

from __future__ import annotations

import json
import time

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from api.services import Services

__all__ = ["CaptureStore", "capture_store"]

_metadata = MetaData()
captures = Table(
    "epcis_captures",
    _metadata,
    Column("event_hash", String(100), primary_key=True),
    Column("member", String(42), nullable=False),
    Column("claimed_at", BigInteger, nullable=False),
    Column("tx_hashes", Text, nullable=True),  # JSON list; NULL while pending
)


class CaptureStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        _metadata.create_all(engine)

    def claim(self, event_hash: str, member: str) -> bool:
        """True if this call now owns the event; False if it was captured (or is being)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(captures).values(
                        event_hash=event_hash, member=member, claimed_at=int(time.time())
                    )
                )
        except IntegrityError:
            return False
        return True

    def done(self, event_hash: str, tx_hashes: list[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(captures)
                .where(captures.c.event_hash == event_hash)
                .values(tx_hashes=json.dumps(tx_hashes))
            )

    def release(self, event_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(captures).where(captures.c.event_hash == event_hash))

    def tx_hashes(self, event_hash: str) -> list[str]:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(captures.c.tx_hashes).where(captures.c.event_hash == event_hash)
            ).scalar()
        return [str(h) for h in json.loads(value)] if value else []


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
