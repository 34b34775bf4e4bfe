"""EPCIS 2.0 query schedules (GS1 EPCIS §8.2.5.3): `second`, `minute`, `hour`,
`dayOfMonth`, `month`, `dayOfWeek` (1 = Monday … 7 = Sunday), each a number, a range
`[lo-hi]`, or a comma-separated list of those; an omitted field matches every value,
except `second`, which is 0 when omitted. Times are UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from medledger.domain.errors import Unprocessable

__all__ = ["QuerySchedule", "check_interval", "next_run"]

FIELDS: Final = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "dayOfMonth": (1, 31),
    "month": (1, 12),
    "dayOfWeek": (1, 7),
}
HORIZON_DAYS: Final = 4 * 366  # a schedule that never fires within it is refused
SAMPLES: Final = 24  # consecutive runs whose gaps must all reach the minimum interval
_PART: Final = re.compile(r"^(\d{1,2})$|^\[(\d{1,2})-(\d{1,2})\]$")
_SPEC = Field(default=None, min_length=1, max_length=100)


class QuerySchedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    second: str | None = _SPEC
    minute: str | None = _SPEC
    hour: str | None = _SPEC
    dayOfMonth: str | None = _SPEC
    month: str | None = _SPEC
    dayOfWeek: str | None = _SPEC

    def values(self) -> dict[str, list[int]]:
        """Every field's allowed values, sorted; a bad field is a 422 naming it."""
        out: dict[str, list[int]] = {}
        for name, (lo, hi) in FIELDS.items():
            spec = getattr(self, name)
            if spec is None:
                spec = "0" if name == "second" else f"[{lo}-{hi}]"
            out[name] = _field(name, spec, lo, hi)
        return out


def _field(name: str, spec: str, lo: int, hi: int) -> list[int]:
    found: set[int] = set()
    for part in spec.split(","):
        m = _PART.match(part.strip())
        if m is None:
            raise Unprocessable(
                "epcis_schedule_invalid", f"schedule {name} {spec!r}: use n, [lo-hi] or a list"
            )
        first, last = (int(m[1]), int(m[1])) if m[1] else (int(m[2]), int(m[3]))
        if not lo <= first <= last <= hi:
            raise Unprocessable(
                "epcis_schedule_invalid", f"schedule {name} {spec!r}: values {lo} to {hi}"
            )
        found.update(range(first, last + 1))
    return sorted(found)


def next_run(schedule: QuerySchedule, after: int) -> int | None:
    """The first time (unix seconds) after `after` the schedule fires (None: never within
    `HORIZON_DAYS`)."""
    v = schedule.values()
    start = dt.datetime.fromtimestamp(after, dt.UTC)
    day = start.date()
    for _ in range(HORIZON_DAYS):
        if (
            day.month in v["month"]
            and day.day in v["dayOfMonth"]
            and day.isoweekday() in v["dayOfWeek"]
        ):
            found = _first_in_day(day, v, after)
            if found is not None:
                return found
        day += dt.timedelta(days=1)
    return None


def _first_in_day(day: dt.date, v: dict[str, list[int]], after: int) -> int | None:
    midnight = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
    if midnight + 86400 <= after:
        return None
    for h in v["hour"]:
        if midnight + h * 3600 + 3599 <= after:
            continue
        for m in v["minute"]:
            base = midnight + h * 3600 + m * 60
            if base + 59 <= after:
                continue
            for s in v["second"]:
                if base + s > after:
                    return base + s
    return None


def check_interval(schedule: QuerySchedule, *, now: int, minimum: float) -> int:
    """The schedule's first run after `now`, if it fires at all and never twice within
    `minimum` seconds (checked over its next `SAMPLES` runs); else a 422."""
    first = next_run(schedule, now)
    if first is None:
        raise Unprocessable("epcis_schedule_invalid", "the schedule never fires")
    at = first
    for _ in range(SAMPLES):
        later = next_run(schedule, at)
        if later is None:
            break
        if later - at < minimum:
            raise Unprocessable(
                "epcis_schedule_too_frequent",
                f"the schedule fires {later - at} s apart; at least {minimum:g} s between runs",
                minimum_seconds=minimum,
            )
        at = later
    return first
