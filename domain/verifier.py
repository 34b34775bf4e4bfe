"""The public verification use case: `judge` a scanned code, queue its scan for the log.

Both faces call it: the API's `/v1/verify` and Digital Link resolver, and the portal's
verification page. What a process keeps for it (`Verifier`: one long-lived read connection,
the batched scan log, the rules) is made on first use and closed at shutdown
(`close_verifier`).

Each scan is logged with its coarse place and its scanner: the member behind the request's
API key while the member is active, else nobody (anonymous); never an IP address. Only
member scans are evidence against later scans (`domain.scan_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from medledger.domain.master_data import with_master_names
from medledger.domain.scan_rules import VerifyPolicy, scan_policy
from medledger.domain.services import Component, Services
from medledger.domain.verification import (
    Location,
    VerifyResult,
    ledger_now,
    verify,
    verify_lot,
)
from medledger.indexer.queries.scans import Scan, ScanLog
from medledger.indexer.queries.verification import DirectSql, Reader, member_status
from medledger.sdk.errors import Gs1Error
from medledger.sdk.gs1 import Udi, parse_code
from medledger.sdk.model import MemberStatus

__all__ = ["MAX_CODE", "Verifier", "close_verifier", "judge", "verifier"]

MAX_CODE: Final = 512  # characters of a scanned code


@dataclass(frozen=True, slots=True)
class Verifier:
    """What verification keeps per process."""

    sql: DirectSql
    scans: ScanLog
    policy: VerifyPolicy


VERIFIER: Component[Verifier] = Component("verifier")


def verifier(services: Services) -> Verifier:
    """This process's verification resources, made on first use."""
    return services.components.get(
        VERIFIER,
        lambda: Verifier(
            sql=DirectSql(services.engine),
            scans=ScanLog(services.engine),
            policy=scan_policy(services.settings),
        ),
    )


def close_verifier(services: Services) -> None:
    """Write the queued scans and close the connection (app shutdown)."""
    found = services.components.pop(VERIFIER)
    if found is not None:
        found.scans.close()
        found.sql.close()


def _scanner(sql: Reader, member: str | None) -> str | None:
    """The member answering for this scan's place: `member` (the address behind the
    request's API key) while it is active, else None (anonymous). Only this is kept with a
    scan, never an IP address (personal data)."""
    if member is None:
        return None
    return member if member_status(sql, member) is MemberStatus.ACTIVE else None


def _parse(code: str) -> Udi:
    try:
        udi = parse_code(code)
    except ValueError as exc:  # biip's symbology reader lets some junk through (e.g. "]Yä")
        raise Gs1Error("malformed", f"cannot read {code[:64]!r}: {exc}") from exc
    if udi.gtin is not None and udi.serial is None and udi.lot is None:
        raise Gs1Error(
            "missing_serial",
            f"GTIN {udi.gtin} has neither a serial (AI 21) nor a lot (AI 10); "
            "a product number alone cannot be verified",
        )
    return udi


def judge(
    services: Services, *, code: str, location: Location | None, member: str | None
) -> VerifyResult:
    """The verdict on `code`, with the scan queued for the log; `member` is the address
    behind the request's API key, if any. Raises Gs1Error (a 400).

    A lot code (GTIN and lot, no serial) is judged as a lot (`verify_lot`) and not logged:
    the scan log is per unit, and a lot is rightly in many places at once."""
    udi = _parse(code)
    if udi.serial is None and udi.lot_key is not None:
        with verifier(services).sql.snapshot() as sql:
            answer = verify_lot(sql, udi, lot_key=udi.lot_key, now=ledger_now(sql))
        return with_master_names(services, answer)
    key = udi.item_id
    place = location.coarse() if location is not None else ""
    v = verifier(services)
    with v.sql.snapshot() as sql:
        now = ledger_now(sql)
        scanner = _scanner(sql, member)
        pending = v.scans.pending(key, now - v.policy.window_seconds) if place else []
        result = verify(
            sql, udi, item_key=key, now=now, policy=v.policy, location=place, pending_scans=pending
        )
    v.scans.add(Scan(key, now, place, scanner))
    return with_master_names(services, result)
