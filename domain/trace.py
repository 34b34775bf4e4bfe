"""Who may trace what: the regulator sees every object; a partner only the items it holds
or has held, and the lots (and their recalls) that reached it. Objects it may not see
answer as unknown ones, so existence is not disclosed across partners."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from medledger.domain.codes import item_key_of
from medledger.domain.errors import NotFound
from medledger.indexer.queries.trace import held_by, item_exists, lot_reached

__all__ = ["TraceScope", "ensure_item_visible", "ensure_lot_visible", "item_key_of"]


@dataclass(frozen=True, slots=True)
class TraceScope:
    """Whose view a trace read takes: None = everything (the regulator)."""

    member: str | None

    @property
    def sees_everything(self) -> bool:
        return self.member is None


def ensure_item_visible(conn: Connection, key: bytes, scope: TraceScope) -> None:
    """404 unless the item exists and, for a partner, it holds or has held it."""
    if not item_exists(conn, key) or (
        scope.member is not None and not held_by(conn, key, scope.member)
    ):
        raise NotFound("unknown_item", f"no item 0x{key.hex()} on the ledger")


def ensure_lot_visible(conn: Connection, lot_index: int, scope: TraceScope, what: str) -> None:
    """404 (naming `what`) unless the scope sees everything or the lot reached the member."""
    if scope.member is not None and not lot_reached(conn, lot_index, scope.member):
        raise NotFound("not_found", f"{what} not found")
