"""Members' GLNs in the read model (table `sites`): each member's primary GLN and the sites
it registered, what the EPCIS export writes as readPoint/bizLocation and what capture
checks a captured location against."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

__all__ = ["SiteRow", "gln_owner", "primary_gln", "sites_of"]


@dataclass(frozen=True, slots=True)
class SiteRow:
    gln: str
    name: str
    name_en: str
    address: str
    active: bool
    is_primary: bool
    block_number: int


_COLUMNS = "s.gln, s.name, s.name_en, s.address, s.active, s.is_primary, s.block_number"


def _row(r: object) -> SiteRow:
    return SiteRow(
        gln=str(r.gln),  # type: ignore[attr-defined]
        name=str(r.name),  # type: ignore[attr-defined]
        name_en=str(r.name_en),  # type: ignore[attr-defined]
        address=str(r.address),  # type: ignore[attr-defined]
        active=bool(r.active),  # type: ignore[attr-defined]
        is_primary=bool(r.is_primary),  # type: ignore[attr-defined]
        block_number=int(r.block_number),  # type: ignore[attr-defined]
    )


def sites_of(conn: Connection, address: str, *, include_retired: bool = False) -> list[SiteRow]:
    """The member's GLNs: its primary GLN first, then its sites by GLN."""
    retired = "" if include_retired else " AND (s.active OR s.is_primary)"
    rows = conn.execute(
        text(
            f"SELECT {_COLUMNS} FROM sites s JOIN organisations o ON o.id = s.organisation_id "
            f"WHERE o.address = :a{retired} ORDER BY s.is_primary DESC, s.gln"
        ),
        {"a": address},
    ).all()
    return [_row(r) for r in rows]


def primary_gln(conn: Connection, address: str) -> str | None:
    found = conn.execute(
        text(
            "SELECT s.gln FROM sites s JOIN organisations o ON o.id = s.organisation_id "
            "WHERE o.address = :a AND s.is_primary"
        ),
        {"a": address},
    ).first()
    return None if found is None else str(found.gln)


def gln_owner(conn: Connection, gln: str) -> tuple[str, SiteRow] | None:
    """The member address owning `gln` and its row, or None."""
    found = conn.execute(
        text(
            f"SELECT o.address AS owner, {_COLUMNS} FROM sites s "
            "JOIN organisations o ON o.id = s.organisation_id WHERE s.gln = :g"
        ),
        {"g": gln},
    ).first()
    return None if found is None else (str(found.owner), _row(found))
