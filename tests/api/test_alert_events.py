"""The derived alert events: a scan after a unit was dispensed becomes one
`alert.scan_anomaly` for its holder and manufacturer, a lot over the adverse-event rate
one `alert.adverse_event_rate` for its manufacturer; evaluating again writes nothing new."""

from __future__ import annotations

from medledger.domain.auth import Member
from medledger.domain.event_alerts import record_alert_events
from medledger.domain.events import EventFilter, EventKind, read_events
from medledger.indexer.queries.scans import record_scan
from medledger.sdk.model import Role
from tests.api.conftest import ApiEnv

ALERTS = EventFilter(kinds=(EventKind.ALERT_SCAN_ANOMALY, EventKind.ALERT_ADVERSE_EVENT_RATE))


def _kinds(api: ApiEnv, address: str, role: Role) -> list[str]:
    with api.services.engine.connect() as conn:
        found = read_events(
            conn,
            chain_id=1,
            member=Member(address, role, None, "api_key"),
            after=0,
            filter=ALERTS,
            limit=100,
        )
    return sorted(e.kind for e in found)


def test_scan_anomalies_and_adverse_rates_become_events_once(api: ApiEnv) -> None:
    api.services.settings = api.services.settings.model_copy(update={"verify_grace_seconds": 0})
    c = api.consortium
    m, h = c.manufacturer, c.hospital
    ids = m.commission(c.lot_key, ["AL1", "AL2"]).value
    h.receive(m.ship(h.address, ids).value, temp_min=50, temp_max=80)
    h.dispense([ids[0]])
    h.report_adverse_event(ids[1], severity=2, report_hash=b"\x07" * 32)
    api.sync()
    at = api.chain.w3.eth.get_block("latest")["timestamp"] + 60
    with api.services.engine.begin() as conn:
        record_scan(conn, ids[0], scanned_at=at, location="Shanghai", scanner=None)

    assert record_alert_events(api.services, since=0) == 2
    assert record_alert_events(api.services, since=0) == 0  # keyed: never twice

    both = sorted([EventKind.ALERT_SCAN_ANOMALY, EventKind.ALERT_ADVERSE_EVENT_RATE])
    assert _kinds(api, c.regulator.address, Role.REGULATOR) == both
    assert _kinds(api, m.address, Role.MANUFACTURER) == both
    assert _kinds(api, h.address, Role.HOSPITAL) == [EventKind.ALERT_SCAN_ANOMALY]
    assert _kinds(api, c.distributor.address, Role.DISTRIBUTOR) == []
