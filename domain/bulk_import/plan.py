"""What each kind of import does: check every row (`plan`, nothing written), then write
its chunks (`send`), each a few ledger transactions, safely again after an interruption."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from medledger.domain.auth import Member
from medledger.domain.bulk_import.files import Row
from medledger.domain.bulk_import.problems import RowProblem
from medledger.domain.services import Services

__all__ = ["Chunk", "Kind", "Plan", "duplicate_check"]

Payload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Chunk:
    rows: int  # file rows it writes
    payload: Payload


@dataclass(slots=True)
class Plan:
    problems: list[RowProblem] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)


class Kind(Protocol):
    """One kind of import (commissioning, lots, products)."""

    @property
    def name(self) -> str: ...

    @property
    def columns(self) -> Mapping[str, str]:
        """Every heading a file may use for a column (key, Chinese) → the column key."""
        ...

    def plan(
        self, services: Services, conn: Connection, *, member: Member, rows: list[Row]
    ) -> Plan: ...

    def before(self, services: Services, *, member: Member, payload: Payload) -> Payload:
        """The ledger facts to read just before a chunk is first sent."""
        ...

    def send(
        self,
        services: Services,
        *,
        member: Member,
        payload: Payload,
        before: Payload,
        resumed: bool,
    ) -> str | None:
        """Write the chunk; when `resumed` (it may have landed already) first check the
        ledger and write only what is missing. The last tx hash, if one was sent."""
        ...


def duplicate_check(seen: dict[Any, int], key: Any, row: int) -> int | None:
    """The row that already had `key`, else None (and `key` is now `row`'s)."""
    first = seen.get(key)
    if first is None:
        seen[key] = row
    return first
