"""The network overview's figures: members by role, shipments per day and by status,
recalls by level, alerts by kind, verification scans by members and anonymous ones (the
partner API's, pulled through its oversight feed). Each is one grouped query over the
indexer's tables."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Connection

from domain.alerts import alerts_feed
from domain.scan_rules import scan_policy
from domain.settings import ApiSettings
from indexer.db import Sql
from sdk.model import MemberStatus, Role, ShipmentStatus

__all__ = ["DAY", "NetworkFigures", "network_overview"]

DAY = 86_400
# Days are counted in China Standard Time (UTC+8), as the portal shows dates.
_OFFSET = 8 * 3600


@dataclass(frozen=True, slots=True)
class NetworkFigures:
    members_by_role: dict[Role, int]  # active members
    suspended: int
    shipments_per_day: list[tuple[int, int]]  # (unix seconds of the day's start, count)
    shipments_by_status: dict[ShipmentStatus, int]
    recalls_by_level: dict[int, tuple[int, int]]  # level -> (open, closed)
    alerts_by_kind: dict[str, int]
    products: int
    lots: int
    scans: int = 0  # public verification scans over the window
    scans_by_members: int = 0  # of which made with a member's API key

    @property
    def members(self) -> int:
        return sum(self.members_by_role.values()) + self.suspended

    @property
    def open_recalls(self) -> int:
        return sum(o for o, _ in self.recalls_by_level.values())


def _members(sql: Sql) -> tuple[dict[Role, int], int]:
    by_role: dict[Role, int] = {}
    suspended = 0
    for role, status, count in sql.rows(
        "SELECT role, status, COUNT(*) FROM organisations WHERE role <> ? GROUP BY role, status",
        (int(Role.NONE),),
    ):
        if int(status) == int(MemberStatus.ACTIVE):
            by_role[Role(int(role))] = int(count)
        else:
            suspended += int(count)
    return by_role, suspended


def _shipments_per_day(sql: Sql, *, now: int, days: int) -> list[tuple[int, int]]:
    today = (now + _OFFSET) // DAY
    first = today - days + 1
    # Constants inlined: PostgreSQL cannot match a GROUP BY expression with parameters.
    counts = {
        int(day): int(count)
        for day, count in sql.rows(
            f"SELECT (b.timestamp + {_OFFSET}) / {DAY} AS day, COUNT(*) FROM shipments s "
            "JOIN blocks b ON b.number = s.sent_block WHERE b.timestamp >= ? GROUP BY day",
            (first * DAY - _OFFSET,),
        )
    }
    return [(d * DAY - _OFFSET, counts.get(d, 0)) for d in range(first, today + 1)]


def network_overview(
    conn: Connection, settings: ApiSettings, *, now: int, days: int = 14
) -> NetworkFigures:
    """The figures of the overview page; shipments and alerts over the last `days` days."""
    sql = Sql(conn)
    by_role, suspended = _members(sql)
    recalls: dict[int, tuple[int, int]] = {}
    for level, is_open, count in sql.rows(
        "SELECT level, CASE WHEN closed_block IS NULL THEN 1 ELSE 0 END, COUNT(*) FROM recalls "
        "GROUP BY level, CASE WHEN closed_block IS NULL THEN 1 ELSE 0 END"
    ):
        opened, closed = recalls.get(int(level), (0, 0))
        recalls[int(level)] = (
            (opened + int(count), closed) if int(is_open) else (opened, closed + int(count))
        )
    alerts = alerts_feed(
        conn,
        since=now - days * DAY,
        policy=scan_policy(settings),
        adverse_event_threshold=settings.adverse_event_rate_threshold,
    )
    scans, by_members = sql.rows(
        "SELECT COUNT(*), COUNT(scanner) FROM verification_scans WHERE scanned_at >= ?",
        (now - days * DAY,),
    )[0]
    return NetworkFigures(
        members_by_role=by_role,
        suspended=suspended,
        shipments_per_day=_shipments_per_day(sql, now=now, days=days),
        shipments_by_status={
            ShipmentStatus(int(s)): int(n)
            for s, n in sql.rows("SELECT status, COUNT(*) FROM shipments GROUP BY status")
        },
        recalls_by_level=dict(sorted(recalls.items())),
        alerts_by_kind=dict(Counter(a.kind for a in alerts)),
        products=int(sql.one("SELECT COUNT(*) FROM products")),
        lots=int(sql.one("SELECT COUNT(*) FROM lots")),
        scans=int(scans),
        scans_by_members=int(by_members),
    )
