"""Calendar dates in the consortium's time zone, the one rule for turning a date into a
timestamp and back.

The contracts keep production dates and expiries as unix seconds; people and labels speak in
calendar dates. Everywhere a date becomes a timestamp (portal forms, the demo seed) or a
timestamp becomes a date (verification, labels, EPCIS, the portal's pages), this module
does it in one time zone: the consortium's, ``Asia/Shanghai`` unless the environment
variable ``MEDLEDGER_TIMEZONE`` names another IANA zone.

- a day starts at 00:00:00 and ends at 23:59:59 in that zone (:func:`day_start`,
  :func:`day_end`): a production date is stored as its start, an expiry as its end, so a
  unit is usable through the whole of its expiry day;
- a timestamp names the day it falls on in that zone (:func:`day_of`).

Reading in the consortium's zone is also what keeps existing lots right: every lot the
portal registered holds the start (production) or end (expiry) of a China Standard Time
day, which reads back as that day here and as the day before (production) in UTC.
"""

from __future__ import annotations

import datetime as dt
import os
from functools import cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from medledger.sdk.errors import MedLedgerError

__all__ = ["DEFAULT_ZONE", "ZONE_ENV", "consortium_zone", "day_end", "day_of", "day_start"]

ZONE_ENV: Final = "MEDLEDGER_TIMEZONE"
DEFAULT_ZONE: Final = "Asia/Shanghai"


@cache
def consortium_zone() -> ZoneInfo:
    """The consortium's time zone (``MEDLEDGER_TIMEZONE``, default ``Asia/Shanghai``)."""
    name = os.environ.get(ZONE_ENV, "").strip() or DEFAULT_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise MedLedgerError(f"{ZONE_ENV}={name!r} is not an IANA time zone") from exc


def day_start(day: dt.date) -> int:
    """Unix time of 00:00:00 on `day` in the consortium's zone."""
    return int(dt.datetime.combine(day, dt.time(0, 0), consortium_zone()).timestamp())


def day_end(day: dt.date) -> int:
    """Unix time of 23:59:59 on `day` in the consortium's zone (an expiry's last second)."""
    return int(dt.datetime.combine(day, dt.time(23, 59, 59), consortium_zone()).timestamp())


def day_of(timestamp: int) -> dt.date:
    """The calendar day `timestamp` falls on in the consortium's zone."""
    return dt.datetime.fromtimestamp(timestamp, consortium_zone()).date()
