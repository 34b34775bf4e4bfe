"""The regulator's network overview: members by role, shipments per day and by status,
recalls by level, alerts by kind, verification scans by members and anonymous ones (the
partner API's, pulled through its oversight feed). The counts are the read model's
(`indexer.queries.network`, `indexer.queries.recalls`); the alerts follow the alert rules
(`domain.alerts`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Connection

from medledger.domain.alerts import Alert, alerts_feed
from medledger.domain.scan_rules import scan_policy
from medledger.domain.settings import ApiSettings
from medledger.indexer.queries.network import (
    DAY,
    catalogue_sizes,
    members_by_role_and_status,
    scan_totals,
    shipments_by_status,
    shipments_per_day,
)
from medledger.indexer.queries.recalls import recalls_by_level
from medledger.sdk.model import MemberStatus, Role, ShipmentStatus

__all__ = ["DAY", "NetworkFigures", "network_alerts", "network_overview"]

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


def network_alerts(conn: Connection, settings: ApiSettings, *, since: int) -> list[Alert]:
    """The regulator's alerts observed at or after `since`, newest first, with the
    deployment's thresholds."""
    return alerts_feed(
        conn,
        since=since,
        policy=scan_policy(settings),
        adverse_event_threshold=settings.adverse_event_rate_threshold,
    )


def network_overview(
    conn: Connection, settings: ApiSettings, *, now: int, days: int = 14
) -> NetworkFigures:
    """The figures of the overview page; shipments and alerts over the last `days` days."""
    by_role: dict[Role, int] = {}
    suspended = 0
    for (role, status), count in members_by_role_and_status(conn).items():
        if status is MemberStatus.ACTIVE:
            by_role[role] = count
        else:
            suspended += count
    alerts = network_alerts(conn, settings, since=now - days * DAY)
    scans = scan_totals(conn, since=now - days * DAY)
    products, lots = catalogue_sizes(conn)
    return NetworkFigures(
        members_by_role=by_role,
        suspended=suspended,
        shipments_per_day=shipments_per_day(conn, now=now, days=days, offset=_OFFSET),
        shipments_by_status=shipments_by_status(conn),
        recalls_by_level=recalls_by_level(conn),
        alerts_by_kind=dict(Counter(a.kind for a in alerts)),
        products=products,
        lots=lots,
        scans=scans.scans,
        scans_by_members=scans.by_members,
    )
