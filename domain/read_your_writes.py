"""Read your own writes: a write use case waits, for at most
`settings.read_model_wait_seconds`, until the read model (the indexer) has reached the
block its transaction was mined in, so the page after a successful action lists it. When
the bound passes the answer says so (`indexed: false`), and the faces show it as pending
instead of a list that silently lacks the new row."""

from __future__ import annotations

import time

from medledger.domain.partner_schemas import OperationOut
from medledger.domain.services import Services
from medledger.indexer.queries.progress import indexed_block

__all__ = ["POLL_SECONDS", "reached", "settled"]

POLL_SECONDS = 0.05


def reached(services: Services, block: int, *, timeout: float | None = None) -> bool:
    """Whether the read model has indexed `block`, waiting up to `timeout` seconds
    (default: the setting) for it to get there."""
    bound = services.settings.read_model_wait_seconds if timeout is None else timeout
    deadline = time.monotonic() + bound
    while True:
        with services.engine.connect() as conn:
            at = indexed_block(conn)
        if at is not None and at >= block:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)


def settled(services: Services, out: OperationOut) -> OperationOut:
    """`out`, the report of a mined write, once the read model shows its block (or with
    `indexed: false` when the bound passed first)."""
    return out.model_copy(update={"indexed": reached(services, out.block_number)})
