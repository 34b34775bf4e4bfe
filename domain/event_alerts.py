"""The derived alert events (issue #17): `alert.scan_anomaly` for each logged scan that
breaks a rule of `domain.scan_rules` (to the unit's holder and manufacturer) and
`alert.adverse_event_rate` for each lot over the rate threshold (to its manufacturer),
written to the outbox by a periodic evaluator (`record_alert_events`, run by the delivery
worker). Each is keyed (`scan:<id>:<rule>`, `aer:<gtin>:<lot>:<day>`), so an evaluation
that overlaps the last one, or runs in two processes, writes it once."""

from __future__ import annotations

from typing import Final

from medledger.domain.alerts import adverse_rate_alerts, scan_anomalies
from medledger.domain.scan_rules import scan_policy
from medledger.domain.services import Services
from medledger.indexer.outbox import LedgerEventKind, NewEvent, write_event
from medledger.indexer.queries.events import lot_manufacturer, unit_parties

__all__ = ["RATE_WINDOW", "record_alert_events"]

RATE_WINDOW: Final = 86400  # one adverse-event rate alert per lot and day


def record_alert_events(services: Services, *, since: int) -> int:
    """Write the alert events observed since `since` that are not written yet; the count."""
    settings = services.settings
    written = 0
    with services.engine.begin() as conn:
        for anomaly in scan_anomalies(conn, since=since, policy=scan_policy(settings)):
            scan = anomaly.scan.scan
            parties = unit_parties(conn, scan.item_key)
            if parties is None:
                continue
            data = {"rule": str(anomaly.rule), "location": scan.location, "serial": parties.serial}
            if anomaly.earlier is not None:
                data["earlier_location"] = anomaly.earlier.location
            event = NewEvent(
                LedgerEventKind.ALERT_SCAN_ANOMALY,
                scan.scanned_at,
                data,
                gtin=parties.gtin,
                lot=parties.lot,
                dedupe_key=f"scan:{anomaly.scan.id}:{anomaly.rule}",
            )
            audience = [parties.holder, parties.manufacturer]
            written += write_event(conn, event, audience=audience) is not None
        threshold = settings.adverse_event_rate_threshold
        for alert in adverse_rate_alerts(conn, since=since, threshold=threshold):
            if alert.gtin is None or alert.lot is None:
                continue
            maker = lot_manufacturer(conn, alert.gtin, alert.lot)
            event = NewEvent(
                LedgerEventKind.ALERT_ADVERSE_EVENT_RATE,
                alert.observed_at,
                {"rate": alert.rate, "threshold": threshold},
                gtin=alert.gtin,
                lot=alert.lot,
                dedupe_key=f"aer:{alert.gtin}:{alert.lot}:{alert.observed_at // RATE_WINDOW}",
            )
            written += write_event(conn, event, audience=[maker] if maker else []) is not None
    return written
