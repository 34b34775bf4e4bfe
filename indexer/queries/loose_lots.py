"""Loose lot quantities for the custody forms: what a holder may ship, use, quarantine or
destroy (its `lot_balances` rows), and the names of lots by key. (Stock pages, recalls and
traces in quantities read `indexer.queries.lot_quantities`.)"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection

from medledger.indexer.db import Sql

__all__ = ["LooseLot", "loose_lots", "lot_names"]


@dataclass(frozen=True, slots=True)
class LooseLot:
    lot_key: bytes
    gtin: str
    lot_number: str
    expiry: int
    active: int
    quarantined: int


def loose_lots(conn: Connection, holder: str) -> list[LooseLot]:
    """The holder's lots with loose units Active or Quarantined, soonest expiry first."""
    sql = Sql(conn)
    org = sql.one("SELECT id FROM organisations WHERE address = ?", (holder,))
    if org is None:
        return []
    rows = sql.rows(
        "SELECT l.lot_key, l.gtin, l.lot_number, l.expiry, b.active, b.quarantined"
        " FROM lot_balances b JOIN lots l ON l.lot_index = b.lot_index"
        " WHERE b.organisation_id = ? AND (b.active > 0 OR b.quarantined > 0)"
        " ORDER BY l.expiry, l.gtin, l.lot_number",
        (int(org),),
    )
    return [LooseLot(bytes(k), str(g), str(n), int(e), int(a), int(q)) for k, g, n, e, a, q in rows]


def lot_names(conn: Connection, keys: Iterable[bytes]) -> dict[bytes, tuple[str, str]]:
    """(GTIN, lot number) of each known lot key."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    marks = ", ".join("?" for _ in wanted)
    rows = Sql(conn).rows(
        f"SELECT lot_key, gtin, lot_number FROM lots WHERE lot_key IN ({marks})", wanted
    )
    return {bytes(k): (str(g), str(n)) for k, g, n in rows}
