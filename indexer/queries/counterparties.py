"""Organisations as the partner pages name them: a member's name, the names of several,
and the active members a member may ship to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from medledger.sdk.model import MemberStatus, Role

__all__ = ["Partner", "names_of", "organisation_name", "partners"]


@dataclass(frozen=True, slots=True)
class Partner:
    address: str
    name: str
    role: Role


def organisation_name(conn: Connection, address: str) -> str | None:
    row = conn.execute(
        text("SELECT name FROM organisations WHERE address = :a"), {"a": address}
    ).first()
    return None if row is None else str(row.name)


def names_of(conn: Connection, addresses: set[str]) -> dict[str, str]:
    """address -> organisation name, for those of `addresses` the ledger knows."""
    if not addresses:
        return {}
    query = text("SELECT address, name FROM organisations WHERE address IN :a").bindparams(
        bindparam("a", expanding=True)
    )
    rows = conn.execute(query, {"a": sorted(addresses)}).all()
    return {str(r.address): str(r.name) for r in rows}


def partners(conn: Connection, *, excluding: str) -> list[Partner]:
    """Active members other than `excluding` and the regulator: who may receive goods."""
    rows = conn.execute(
        text(
            "SELECT address, name, role FROM organisations WHERE status = :active "
            "AND address <> :a AND role <> :regulator ORDER BY role, name"
        ),
        {"a": excluding, "active": int(MemberStatus.ACTIVE), "regulator": int(Role.REGULATOR)},
    ).all()
    return [Partner(str(r.address), str(r.name), Role(int(r.role))) for r in rows]
