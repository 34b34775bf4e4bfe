"""Members with their licences, for the regulator's members page."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection

from indexer.db import Sql
from sdk.model import LicenceKind, MemberStatus, Role

__all__ = ["LicenceView", "MemberView", "members_with_licences"]


@dataclass(frozen=True, slots=True)
class LicenceView:
    kind: LicenceKind
    classes: tuple[int, ...]  # device classes 1..3 it covers
    valid_until: int
    revoked: bool

    def valid_at(self, now: int) -> bool:
        return not self.revoked and self.valid_until >= now


@dataclass(slots=True)
class MemberView:
    address: str
    name: str
    role: Role
    status: MemberStatus
    admitted_block: int
    licences: list[LicenceView] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.status is MemberStatus.ACTIVE


def members_with_licences(conn: Connection) -> list[MemberView]:
    """Every admitted organisation, in admission order, with its licences by kind."""
    sql = Sql(conn)
    members: dict[int, MemberView] = {
        int(i): MemberView(str(a), str(n), Role(int(r)), MemberStatus(int(s)), int(b))
        for i, a, n, r, s, b in sql.rows(
            "SELECT id, address, name, role, status, admitted_block FROM organisations "
            "WHERE role <> ? ORDER BY id",
            (int(Role.NONE),),
        )
    }
    for org, kind, mask, until, revoked in sql.rows(
        "SELECT organisation_id, kind, class_mask, valid_until, revoked FROM licences "
        "ORDER BY organisation_id, kind"
    ):
        member = members.get(int(org))
        if member is not None:
            classes = tuple(c for c in (1, 2, 3) if int(mask) & (1 << c))
            member.licences.append(
                LicenceView(LicenceKind(int(kind)), classes, int(until), bool(revoked))
            )
    return list(members.values())
