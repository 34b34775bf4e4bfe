"""What the benchmarks (`ops.bench.indexer`, `ops.bench.verify`) read from an
indexed database to pick their samples, and the throwaway PostgreSQL database they index
into. Samples are drawn at random or in bulk: none of this serves a user."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import Connection, inspect

from medledger.indexer.db import Sql
from medledger.sdk.model import ItemStatus

__all__ = [
    "RecallSize",
    "add_bench_member",
    "UnitLabel",
    "database_bytes",
    "is_indexed",
    "item_keys_of",
    "largest_recall",
    "last_event_id",
    "last_item_id",
    "lot_keys",
    "nonempty_containers",
    "random_units",
    "throwaway_database",
    "unit_count",
]


@contextmanager
def throwaway_database(admin_url: str) -> Iterator[str | None]:
    """A new PostgreSQL database, dropped afterwards: its SQLAlchemy URL (None if the
    server at `admin_url` is unreachable)."""
    name = f"medledger_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError:
        yield None
        return
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_bytes(conn: Connection) -> int:
    """The size on disk of the PostgreSQL database `conn` is connected to."""
    return int(Sql(conn).one("SELECT pg_database_size(current_database())"))


def is_indexed(conn: Connection) -> bool:
    """Whether the database holds the read model's tables yet."""
    return inspect(conn).has_table("item_events")


def last_event_id(conn: Connection) -> int:
    """The row id of the newest item event: how many were written."""
    return int(Sql(conn).one("SELECT MAX(id) FROM item_events"))


def last_item_id(conn: Connection) -> int:
    return int(Sql(conn).one("SELECT MAX(id) FROM items"))


def item_keys_of(conn: Connection, item_ids: Sequence[int]) -> list[bytes]:
    """The chain ids of the items with these row ids."""
    if not item_ids:
        return []
    marks = ",".join("?" * len(item_ids))
    rows = Sql(conn).rows(f"SELECT item_key FROM items WHERE id IN ({marks})", item_ids)
    return [bytes(key) for (key,) in rows]


def lot_keys(conn: Connection) -> list[bytes]:
    """Every lot, in the order the chain registered them."""
    return [bytes(key) for (key,) in Sql(conn).rows("SELECT lot_key FROM lots ORDER BY lot_index")]


class RecallSize(NamedTuple):
    recall_id: int
    units: int


def largest_recall(conn: Connection) -> RecallSize:
    """The recall of the lot with the most units (the database must hold a recall)."""
    ((recall_id, units),) = Sql(conn).rows(
        "SELECT r.id, COUNT(*) FROM recalls r JOIN items i ON i.lot_index = r.lot_index "
        "GROUP BY r.id ORDER BY COUNT(*) DESC LIMIT 1"
    )
    return RecallSize(int(recall_id), int(units))


def nonempty_containers(conn: Connection) -> list[bytes]:
    """The chain ids of the containers holding anything."""
    rows = Sql(conn).rows(
        "SELECT item_key FROM items WHERE id IN "
        "(SELECT DISTINCT parent_id FROM items WHERE parent_id IS NOT NULL)"
    )
    return [bytes(key) for (key,) in rows]


def unit_count(conn: Connection) -> int:
    return int(Sql(conn).one("SELECT COUNT(*) FROM items WHERE NOT is_container"))


@dataclass(frozen=True, slots=True)
class UnitLabel:
    """What a unit's label says."""

    gtin: str
    lot_number: str
    expiry: int
    serial: str


def random_units(
    conn: Connection,
    limit: int,
    *,
    status: ItemStatus | None = None,
    recalled: bool | None = None,
    newest: int | None = None,
) -> list[UnitLabel]:
    """Up to `limit` units at random: in `status`, of a lot under an open recall or not,
    among the `newest` units (by last change) in `status`."""
    where = ["NOT i.is_container"]
    params: list[Any] = []
    if recalled is not None:
        where.append("l.active_recall != 0" if recalled else "l.active_recall = 0")
    if status is not None:
        where.append("i.status = ?")
        params.append(int(status))
    if newest is not None:
        if status is None:
            raise ValueError("the newest units of which status?")
        where.append(
            "i.id IN (SELECT id FROM items WHERE status = ? ORDER BY updated_block DESC LIMIT ?)"
        )
        params += [int(status), newest]
    rows = Sql(conn).rows(
        "SELECT l.gtin, l.lot_number, l.expiry, i.code FROM items i "
        f"JOIN lots l ON l.lot_index = i.lot_index WHERE {' AND '.join(where)} "
        "ORDER BY random() LIMIT ?",
        [*params, limit],
    )
    return [
        UnitLabel(gtin=str(gtin), lot_number=str(lot), expiry=int(expiry), serial=str(code))
        for gtin, lot, expiry, code in rows
    ]


def add_bench_member(conn: Connection, address: str, name: str) -> None:
    """An active distributor row without a chain behind it (`ops.bench.webhooks` writes
    off-chain events to it)."""
    Sql(conn).run(
        "INSERT INTO organisations (id, address, role, name, status, admitted_block) "
        "VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM organisations), ?, 3, ?, 1, 0)",
        (address, name),
    )
