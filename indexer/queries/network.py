"""Network queries for the regulator: the admitted members (with their licences), the
figures of the network overview (members, shipments, products, lots) and the public
verification scans pulled from the partner API's oversight feed.

Organisations with role NONE (known addresses never admitted) are not members.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection

from medledger.indexer.db import Sql
from medledger.sdk.model import LicenceKind, MemberStatus, Role, ShipmentStatus

__all__ = [
    "DAY",
    "LicenceView",
    "MemberRow",
    "MemberView",
    "ScanRow",
    "ScanTotals",
    "catalogue_sizes",
    "member_count",
    "member_rows",
    "members_by_role_and_status",
    "members_with_licences",
    "scan_count",
    "scan_rows",
    "scan_totals",
    "shipments_by_status",
    "shipments_per_day",
]

DAY = 86_400


@dataclass(frozen=True, slots=True)
class MemberRow:
    address: str
    name: str
    role: Role
    status: MemberStatus
    admitted_block: int


def member_count(conn: Connection) -> int:
    return int(
        Sql(conn).one("SELECT COUNT(*) FROM organisations WHERE role <> ?", (int(Role.NONE),))
    )


def member_rows(conn: Connection, *, limit: int, offset: int) -> list[MemberRow]:
    """Admitted organisations in admission order, one page."""
    rows = Sql(conn).rows(
        "SELECT address, name, role, status, admitted_block FROM organisations "
        "WHERE role <> ? ORDER BY id LIMIT ? OFFSET ?",
        (int(Role.NONE), limit, offset),
    )
    return [
        MemberRow(str(a), str(n), Role(int(r)), MemberStatus(int(s)), int(b))
        for a, n, r, s, b in rows
    ]


@dataclass(frozen=True, slots=True)
class LicenceView:
    kind: LicenceKind
    classes: tuple[int, ...]  # device classes 1..3 it covers
    valid_until: int
    revoked: bool
    number: str = ""
    authority: str = ""
    scope: tuple[str, ...] = ()  # classification codes ("07", "07-03", ...)
    warehouse_address: str = ""
    province: str = ""

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
    for org, kind, mask, until, revoked, number, authority, scope, address, province in sql.rows(
        "SELECT organisation_id, kind, class_mask, valid_until, revoked, number, authority, scope, "
        "warehouse_address, province FROM licences "
        "ORDER BY organisation_id, kind"
    ):
        member = members.get(int(org))
        if member is not None:
            classes = tuple(c for c in (1, 2, 3) if int(mask) & (1 << c))
            member.licences.append(
                LicenceView(
                    LicenceKind(int(kind)),
                    classes,
                    int(until),
                    bool(revoked),
                    str(number),
                    str(authority),
                    tuple(c for c in str(scope).split(",") if c),
                    str(address),
                    str(province),
                )
            )
    return list(members.values())


def members_by_role_and_status(conn: Connection) -> dict[tuple[Role, MemberStatus], int]:
    """Admitted organisations counted per (role, status)."""
    return {
        (Role(int(role)), MemberStatus(int(status))): int(count)
        for role, status, count in Sql(conn).rows(
            "SELECT role, status, COUNT(*) FROM organisations WHERE role <> ? "
            "GROUP BY role, status",
            (int(Role.NONE),),
        )
    }


def shipments_per_day(
    conn: Connection, *, now: int, days: int, offset: int
) -> list[tuple[int, int]]:
    """Shipments sent on each of the last `days` days, oldest first, as (unix seconds of
    the day's start, count); days start at midnight of the time zone `offset` seconds
    east of UTC."""
    today = (now + offset) // DAY
    first = today - days + 1
    # Constants inlined: PostgreSQL cannot match a GROUP BY expression with parameters.
    counts = {
        int(day): int(count)
        for day, count in Sql(conn).rows(
            f"SELECT (b.timestamp + {int(offset)}) / {DAY} AS day, COUNT(*) FROM shipments s "
            "JOIN blocks b ON b.number = s.sent_block WHERE b.timestamp >= ? GROUP BY day",
            (first * DAY - offset,),
        )
    }
    return [(d * DAY - offset, counts.get(d, 0)) for d in range(first, today + 1)]


def shipments_by_status(conn: Connection) -> dict[ShipmentStatus, int]:
    return {
        ShipmentStatus(int(s)): int(n)
        for s, n in Sql(conn).rows("SELECT status, COUNT(*) FROM shipments GROUP BY status")
    }


def catalogue_sizes(conn: Connection) -> tuple[int, int]:
    """How many products and how many lots the ledger registered."""
    sql = Sql(conn)
    return int(sql.one("SELECT COUNT(*) FROM products")), int(sql.one("SELECT COUNT(*) FROM lots"))


@dataclass(frozen=True, slots=True)
class ScanRow:
    item_key: bytes
    scanned_at: int
    location: str
    scanner: str | None  # the scanning member's credential, None for an anonymous scan


def scan_count(conn: Connection, *, since: int) -> int:
    return int(
        Sql(conn).one("SELECT COUNT(*) FROM verification_scans WHERE scanned_at >= ?", (since,))
    )


def scan_rows(conn: Connection, *, since: int, limit: int, offset: int) -> list[ScanRow]:
    """Public verification scans since `since` (unix seconds), newest first, one page."""
    rows = Sql(conn).rows(
        "SELECT item_key, scanned_at, location, scanner FROM verification_scans "
        "WHERE scanned_at >= ? ORDER BY scanned_at DESC, id DESC LIMIT ? OFFSET ?",
        (since, limit, offset),
    )
    return [
        ScanRow(bytes(k), int(t), str(loc), None if s is None else str(s)) for k, t, loc, s in rows
    ]


@dataclass(frozen=True, slots=True)
class ScanTotals:
    scans: int
    by_members: int  # of which made with a member's credential


def scan_totals(conn: Connection, *, since: int) -> ScanTotals:
    scans, by_members = Sql(conn).rows(
        "SELECT COUNT(*), COUNT(scanner) FROM verification_scans WHERE scanned_at >= ?",
        (since,),
    )[0]
    return ScanTotals(int(scans), int(by_members))
