"""The regulator's alerts feed: scan anomalies, cold-chain excursions at receipt, and lots
whose adverse-event rate (distinct reporting members per commissioned unit) is above a
threshold.

One function, `alerts_feed`, over the indexer's tables, newest first. Adverse-event
reports name an item or a lot (`subjectId`); both count against the lot.

Scans in two places follow the verdict's rule (`api.verification`): a pair counts when
the earlier scan was a member's (made with a member's API key); a pair whose earlier scan
was anonymous is no alert, since anyone can send any place for any serial. A scan after
dispensing alerts whoever sent it: it changes no one else's verdict, and a used unit's
label in circulation is worth a look. On the
regulator's deployment the scans are the partner API's, pulled through the oversight feed
(`api.oversight_feed`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from domain.verification import places_distant
from indexer.db import Sql
from indexer.queries import scan_anomalies

__all__ = ["Alert", "alerts_feed"]


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # scan_two_places, scan_after_dispensed, cold_chain_excursion, adverse_event_rate
    observed_at: int  # unix seconds
    detail: str
    item_id: bytes | None = None
    gtin: str | None = None
    lot: str | None = None
    shipment_id: int | None = None
    organisation: str | None = None
    rate: float | None = None


def _scan_alerts(conn: Connection, since: int, window: int, distant_km: float) -> list[Alert]:
    out: list[Alert] = []
    for item, at, where, earlier, earlier_at in Sql(conn).rows(
        "SELECT s2.item_key, s2.scanned_at, s2.location, s1.location, s1.scanned_at "
        "FROM verification_scans s2 JOIN verification_scans s1 "
        "ON s1.item_key = s2.item_key AND s1.scanned_at >= s2.scanned_at - ? "
        "AND s1.scanned_at <= s2.scanned_at AND s1.id < s2.id AND s1.scanner IS NOT NULL "
        "WHERE s2.scanned_at >= ? AND s1.location <> s2.location ORDER BY s2.scanned_at, s2.id",
        (window, since),
    ):
        # The query compares location strings; two wards of one hospital are no alert.
        if places_distant(str(where), str(earlier), distant_km=distant_km):
            detail = (
                f"scanned in {str(where)!r} {int(at) - int(earlier_at)} s after "
                f"a member's scan in {str(earlier)!r}"
            )
            out.append(Alert("scan_two_places", int(at), detail, item_id=bytes(item)))
    for a in scan_anomalies(conn, since=since, window_seconds=window):
        if a.kind == "after_dispensed":
            detail = f"scanned in {a.location!r} after it was dispensed"
            out.append(Alert(f"scan_{a.kind}", a.scanned_at, detail, item_id=a.item_key))
    return out


def _excursions(conn: Connection, since: int) -> list[Alert]:
    rows = Sql(conn).rows(
        "SELECT s.id, b.timestamp, o.address, s.temp_min, s.temp_max, s.excursion_seconds, "
        "s.quarantined FROM shipments s JOIN blocks b ON b.number = s.settled_block "
        "JOIN organisations o ON o.id = s.receiver_id "
        "WHERE s.settled_block IS NOT NULL AND (s.quarantined = ? OR s.excursion_seconds > 0) "
        "AND b.timestamp >= ?",
        (True, since),
    )
    return [
        Alert(
            "cold_chain_excursion",
            int(t),
            f"shipment {sid} received at {int(tmin) / 10:.1f}..{int(tmax) / 10:.1f} C with "
            f"{int(exc or 0)} s of excursion" + ("; quarantined on receipt" if q else ""),
            shipment_id=int(sid),
            organisation=str(addr),
        )
        for sid, t, addr, tmin, tmax, exc, q in rows
    ]


def _adverse_rates(conn: Connection, since: int, threshold: float) -> list[Alert]:
    """Per lot, the distinct members that reported adverse events about it or its units,
    per commissioned unit: one member reporting again and again counts once."""
    sql = Sql(conn)
    per_lot: dict[int, tuple[set[int], int]] = {}  # lot_index -> (reporters, last report time)
    for query in (
        "SELECT i.lot_index, a.reporter_id, MAX(b.timestamp) FROM adverse_events a "
        "JOIN items i ON i.item_key = a.subject JOIN blocks b ON b.number = a.block_number "
        "WHERE i.lot_index IS NOT NULL GROUP BY i.lot_index, a.reporter_id",
        "SELECT l.lot_index, a.reporter_id, MAX(b.timestamp) FROM adverse_events a "
        "JOIN lots l ON l.lot_key = a.subject JOIN blocks b ON b.number = a.block_number "
        "GROUP BY l.lot_index, a.reporter_id",
    ):
        for lot_index, reporter, last in sql.rows(query):
            reporters, seen = per_lot.setdefault(int(lot_index), (set(), 0))
            reporters.add(int(reporter))
            per_lot[int(lot_index)] = (reporters, max(seen, int(last)))
    out: list[Alert] = []
    for lot_index, (reporters, last) in per_lot.items():
        reports = len(reporters)
        if last < since:
            continue
        units = int(
            sql.one(
                "SELECT COUNT(*) FROM items WHERE lot_index = ? AND is_container = ?",
                (lot_index, False),
            )
        )
        rate = reports / max(units, 1)
        if rate <= threshold:
            continue
        gtin, number = sql.rows(
            "SELECT gtin, lot_number FROM lots WHERE lot_index = ?", (lot_index,)
        )[0]
        out.append(
            Alert(
                "adverse_event_rate",
                last,
                f"{reports} members reported adverse events for {units} units of lot {number} "
                f"(rate {rate:.4f} > {threshold})",
                gtin=str(gtin),
                lot=str(number),
                rate=rate,
            )
        )
    return out


def alerts_feed(
    conn: Connection,
    *,
    since: int,
    scan_window_seconds: int,
    distant_km: float,
    adverse_event_threshold: float,
) -> list[Alert]:
    """Every alert observed at or after `since`, newest first. Two scans of one unit count
    when they are at least `distant_km` apart (as the verification API judges places)."""
    alerts = _scan_alerts(conn, since, scan_window_seconds, distant_km)
    alerts += _excursions(conn, since)
    alerts += _adverse_rates(conn, since, adverse_event_threshold)
    alerts.sort(key=lambda a: (-a.observed_at, a.kind))
    return alerts
