"""Every scan-anomaly rule, in one place: the public verdict (`domain.verification`) and the
regulator's alerts (`domain.alerts`) both judge scans with these, so a scan that makes a
verdict suspect is the scan the regulator is alerted to, and no other.

- two places: a scan, and a *member's* scan of the same unit at most `window_seconds`
  earlier in a distant place (`places_distant`). Only member scans are evidence: a scan by
  an authenticated, active member (a partner API key) is a statement its member answers
  for; an anonymous scan (a phone, no key) is judged, but never judges a later scan, so
  nobody can turn a unit suspect for the next scanner by sending `country=US` for a serial
  they guessed.
- scanned after use: a scan more than `grace_seconds` after the unit was dispensed or
  destroyed (a unit scanned at the bedside shortly after it was used is no anomaly).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from medledger.domain.settings import ApiSettings
from medledger.domain.verdicts import ReasonCode, Verdict
from medledger.indexer.items import EventKind
from medledger.indexer.queries.scans import Scan
from medledger.sdk.model import ItemStatus

__all__ = [
    "USES",
    "Use",
    "VerifyPolicy",
    "is_evidence",
    "places_distant",
    "scan_policy",
    "scanned_after_use",
    "two_places",
]


@dataclass(frozen=True, slots=True)
class VerifyPolicy:
    window_seconds: int
    distant_km: float
    grace_seconds: int


def scan_policy(settings: ApiSettings) -> VerifyPolicy:
    """The deployment's rules (`VERIFY_WINDOW_SECONDS`, `VERIFY_DISTANT_KM`,
    `VERIFY_GRACE_SECONDS`)."""
    return VerifyPolicy(
        settings.verify_window_seconds, settings.verify_distant_km, settings.verify_grace_seconds
    )


@dataclass(frozen=True, slots=True)
class _Place:
    country: str | None
    region: str | None
    geo: tuple[float, float] | None

    @classmethod
    def parse(cls, text: str) -> _Place:
        country = region = None
        geo = None
        for part in text.split():
            if part.startswith("geo:"):
                lat, _, lon = part[4:].partition(",")
                try:
                    geo = (float(lat), float(lon))
                except ValueError:
                    continue
            else:
                country, _, reg = part.partition("-")
                region = reg or None
        return cls(country, region, geo)

    def distance_km(self, other: _Place) -> float | None:
        if self.geo is None or other.geo is None:
            return None
        (la1, lo1), (la2, lo2) = (map(math.radians, self.geo), map(math.radians, other.geo))
        h = (
            math.sin((la2 - la1) / 2) ** 2
            + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
        )
        return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))

    def distant_from(self, other: _Place, *, distant_km: float) -> bool:
        km = self.distance_km(other)
        if km is not None:
            return km >= distant_km
        if self.country is None or other.country is None:
            return False
        if self.country != other.country:
            return True
        return self.region is not None and other.region is not None and self.region != other.region


def places_distant(a: str, b: str, *, distant_km: float) -> bool:
    """Whether two stored scan locations are far apart: points at least `distant_km` apart,
    two countries, or two regions of one country. Incomparable places (a country and a
    point, or an empty location) are not."""
    if not a or not b:
        return False
    return _Place.parse(a).distant_from(_Place.parse(b), distant_km=distant_km)


def is_evidence(scan: Scan) -> bool:
    """Whether a scan may count against a later one: only a member's (module docstring)."""
    return scan.scanner is not None


def two_places(
    location: str, earlier: Iterable[Scan], *, now: int, policy: VerifyPolicy
) -> Scan | None:
    """The first of the `earlier` scans (give them newest first) that, with this scan at
    `location` and time `now`, puts the unit in two places; None when none does."""
    for other in earlier:
        if (
            is_evidence(other)
            and other.scanned_at >= now - policy.window_seconds
            and places_distant(other.location, location, distant_km=policy.distant_km)
        ):
            return other
    return None


@dataclass(frozen=True, slots=True)
class Use:
    """A status that ends a unit's life, the step that sets it, and what a verdict says."""

    step: EventKind
    verdict: Verdict
    reason: ReasonCode
    scanned_after: ReasonCode


USES: Final = {
    ItemStatus.DISPENSED: Use(
        EventKind.DISPENSED,
        Verdict.DISPENSED,
        ReasonCode.DISPENSED,
        ReasonCode.SCANNED_AFTER_DISPENSED,
    ),
    ItemStatus.DESTROYED: Use(
        EventKind.DESTROYED,
        Verdict.DESTROYED,
        ReasonCode.DESTROYED,
        ReasonCode.SCANNED_AFTER_DESTROYED,
    ),
}


def scanned_after_use(
    status: ItemStatus, used_at: int | None, *, now: int, policy: VerifyPolicy
) -> ReasonCode | None:
    """`scanned_after_dispensed`/`_destroyed` for a scan at `now` more than the grace after
    the unit (now `status`) was used at `used_at`; None otherwise."""
    use = USES.get(status)
    if use is None or used_at is None or now - used_at <= policy.grace_seconds:
        return None
    return use.scanned_after
