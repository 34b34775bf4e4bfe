"""The regulator's alerts feed: scan anomalies, cold-chain excursions at receipt, and lots
whose adverse-event rate (distinct reporting members per commissioned unit) is above a
threshold.

One function, `alerts_feed`, over the indexer's tables, newest first. Adverse-event
reports name an item or a lot (`subjectId`); both count against the lot.

Scan anomalies are the public verdict's own rules (`domain.scan_rules`), applied to the
logged scans (`scan_anomalies`): a scan alerts exactly when it made its verdict suspect for
two places, or for being scanned more than the grace after the unit was dispensed or
destroyed (it changes no one else's verdict, and a used unit's label in circulation is worth
a look). On the regulator's deployment the scans are the partner API's, pulled through the
oversight feed (`domain.oversight_feed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from sqlalchemy import Connection

from medledger.domain.scan_rules import VerifyPolicy, scanned_after_use, two_places
from medledger.domain.verdicts import ReasonCode
from medledger.indexer.queries.alerts import adverse_reporters, excursions_since, lot_units
from medledger.indexer.queries.scans import LoggedScan, Scan, member_scan_pairs, used_unit_scans

__all__ = [
    "Alert",
    "AlertKind",
    "ScanAnomaly",
    "adverse_rate_alerts",
    "alerts_feed",
    "scan_anomalies",
]


class AlertKind(StrEnum):
    SCAN_TWO_PLACES = "scan_two_places"
    SCAN_AFTER_DISPENSED = "scan_after_dispensed"
    SCAN_AFTER_DESTROYED = "scan_after_destroyed"
    COLD_CHAIN_EXCURSION = "cold_chain_excursion"
    ADVERSE_EVENT_RATE = "adverse_event_rate"


@dataclass(frozen=True, slots=True)
class Alert:
    kind: AlertKind
    observed_at: int  # unix seconds
    detail: str
    item_id: bytes | None = None
    gtin: str | None = None
    lot: str | None = None
    shipment_id: int | None = None
    organisation: str | None = None
    rate: float | None = None


@dataclass(frozen=True, slots=True)
class ScanAnomaly:
    """A logged scan that breaks a scan-anomaly rule: `rule` is the reason code its verdict
    gave for it."""

    rule: ReasonCode
    scan: LoggedScan
    earlier: Scan | None = None  # the member's scan elsewhere, for two_places
    used_at: int | None = None  # when the unit was dispensed or destroyed


def scan_anomalies(conn: Connection, *, since: int, policy: VerifyPolicy) -> list[ScanAnomaly]:
    """Every scan since `since` that breaks a rule of `domain.scan_rules`, judged as its
    verdict judged it: against the member scans written before it, at its own time."""
    earlier: dict[int, tuple[LoggedScan, list[Scan]]] = {}
    for pair in member_scan_pairs(conn, since=since, window_seconds=policy.window_seconds):
        earlier.setdefault(pair.scan.id, (pair.scan, []))[1].append(pair.earlier)
    out: list[ScanAnomaly] = []
    for logged, others in earlier.values():
        scan = logged.scan
        other = two_places(scan.location, others, now=scan.scanned_at, policy=policy)
        if other is not None:
            out.append(ScanAnomaly(ReasonCode.TWO_PLACES, logged, earlier=other))
    for used in used_unit_scans(conn, since=since):
        at = used.scan.scan.scanned_at
        rule = scanned_after_use(used.status, used.used_at, now=at, policy=policy)
        if rule is not None:
            out.append(ScanAnomaly(rule, used.scan, used_at=used.used_at))
    return out


_KINDS: Final = {
    ReasonCode.TWO_PLACES: AlertKind.SCAN_TWO_PLACES,
    ReasonCode.SCANNED_AFTER_DISPENSED: AlertKind.SCAN_AFTER_DISPENSED,
    ReasonCode.SCANNED_AFTER_DESTROYED: AlertKind.SCAN_AFTER_DESTROYED,
}


def _scan_alert(anomaly: ScanAnomaly) -> Alert:
    scan = anomaly.scan.scan
    kind = _KINDS[anomaly.rule]
    if anomaly.earlier is not None:
        detail = (
            f"scanned in {scan.location!r} {scan.scanned_at - anomaly.earlier.scanned_at} s "
            f"after a member's scan in {anomaly.earlier.location!r}"
        )
    else:
        word = kind.value.removeprefix("scan_after_")
        hours = (scan.scanned_at - (anomaly.used_at or 0)) // 3600
        detail = f"scanned in {scan.location!r} {hours} h after it was {word}"
    return Alert(kind, scan.scanned_at, detail, item_id=scan.item_key)


def _excursions(conn: Connection, since: int) -> list[Alert]:
    return [
        Alert(
            AlertKind.COLD_CHAIN_EXCURSION,
            r.received_at,
            f"shipment {r.shipment_id} received at {r.temp_min / 10:.1f}..{r.temp_max / 10:.1f} C "
            f"with {r.excursion_seconds} s of excursion"
            + ("; quarantined on receipt" if r.quarantined else ""),
            shipment_id=r.shipment_id,
            organisation=r.receiver,
        )
        for r in excursions_since(conn, since)
    ]


def _adverse_rates(conn: Connection, since: int, threshold: float) -> list[Alert]:
    """Per lot, the distinct members that reported adverse events about it or its units,
    per commissioned unit: one member reporting again and again counts once."""
    per_lot: dict[int, tuple[set[int], int]] = {}  # lot_index -> (reporters, last report time)
    for report in adverse_reporters(conn):
        reporters, seen = per_lot.setdefault(report.lot_index, (set(), 0))
        reporters.add(report.reporter_id)
        per_lot[report.lot_index] = (reporters, max(seen, report.last_report_at))
    out: list[Alert] = []
    for lot_index, (reporters, last) in per_lot.items():
        reports = len(reporters)
        if last < since:
            continue
        lot = lot_units(conn, lot_index)
        rate = reports / max(lot.units, 1)
        if rate <= threshold:
            continue
        out.append(
            Alert(
                AlertKind.ADVERSE_EVENT_RATE,
                last,
                f"{reports} members reported adverse events for {lot.units} units of lot "
                f"{lot.lot_number} (rate {rate:.4f} > {threshold})",
                gtin=lot.gtin,
                lot=lot.lot_number,
                rate=rate,
            )
        )
    return out


def alerts_feed(
    conn: Connection,
    *,
    since: int,
    policy: VerifyPolicy,
    adverse_event_threshold: float,
) -> list[Alert]:
    """Every alert observed at or after `since`, newest first; scans are judged by the
    verdict's `policy` (`domain.scan_rules.scan_policy`)."""
    alerts = [_scan_alert(a) for a in scan_anomalies(conn, since=since, policy=policy)]
    alerts += _excursions(conn, since)
    alerts += _adverse_rates(conn, since, adverse_event_threshold)
    alerts.sort(key=lambda a: (-a.observed_at, a.kind))
    return alerts


def adverse_rate_alerts(
    conn: Connection, *, since: int, threshold: float, lots: set[tuple[str, str]] | None = None
) -> list[Alert]:
    """The per-lot adverse-event rate alerts observed at or after `since`, newest first;
    only those of `lots` ((gtin, lot number) pairs, e.g. a manufacturer's own) if given."""
    found = _adverse_rates(conn, since, threshold)
    if lots is not None:
        found = [a for a in found if (a.gtin, a.lot) in lots]
    return sorted(found, key=lambda a: -a.observed_at)
