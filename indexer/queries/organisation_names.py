"""The name the ledger gives a member's organisation."""

from __future__ import annotations

from sqlalchemy import Connection, text

__all__ = ["organisation_name"]


def organisation_name(conn: Connection, address: str) -> str | None:
    """The indexed name of the organisation at `address` (a checksummed address), if any."""
    name = conn.execute(
        text("SELECT name FROM organisations WHERE address = :a"), {"a": address}
    ).scalar()
    return None if name is None else str(name)
