"""EPCIS query schedules (`domain.epcis_schedule`): the next run after a time, UTC, with
the GS1 field forms, and the minimum interval between runs."""

from __future__ import annotations

import datetime as dt

import pytest

from medledger.domain.epcis_schedule import QuerySchedule, check_interval, next_run
from medledger.domain.errors import Unprocessable


def _ts(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp())


def test_the_next_run_follows_each_field() -> None:
    at = _ts("2026-12-06T02:30:10+00:00")  # a Sunday
    assert next_run(QuerySchedule(minute="0", hour="6"), at) == _ts("2026-12-06T06:00:00+00:00")
    assert next_run(QuerySchedule(minute="15"), at) == _ts("2026-12-06T03:15:00+00:00")
    monday = QuerySchedule(minute="0", hour="[8-9]", dayOfWeek="1")
    assert next_run(monday, at) == _ts("2026-12-07T08:00:00+00:00")
    new_year = QuerySchedule(minute="0", hour="0", dayOfMonth="1", month="1")
    assert next_run(new_year, at) == _ts("2027-01-01T00:00:00+00:00")
    listed = QuerySchedule(second="5,40", minute="30", hour="2")
    assert next_run(listed, at) == _ts("2026-12-06T02:30:40+00:00")
    assert next_run(QuerySchedule(dayOfMonth="31", month="2"), at) is None


def test_the_minimum_interval_and_bad_fields_are_422s() -> None:
    now = _ts("2026-12-06T02:30:10+00:00")
    hourly = QuerySchedule(minute="0")
    assert check_interval(hourly, now=now, minimum=3600) == _ts("2026-12-06T03:00:00+00:00")
    for schedule, code in [
        (QuerySchedule(minute="0,30"), "epcis_schedule_too_frequent"),
        (QuerySchedule(second="[0-59]"), "epcis_schedule_too_frequent"),
        (QuerySchedule(hour="24"), "epcis_schedule_invalid"),
        (QuerySchedule(minute="[9-3]"), "epcis_schedule_invalid"),
        (QuerySchedule(dayOfWeek="*"), "epcis_schedule_invalid"),
        (QuerySchedule(dayOfMonth="30", month="2"), "epcis_schedule_invalid"),
    ]:
        with pytest.raises(Unprocessable) as raised:
            check_interval(schedule, now=now, minimum=3600)
        assert raised.value.code == code, schedule
