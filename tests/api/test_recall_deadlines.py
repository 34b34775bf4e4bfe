"""The 1/3/7-day notice deadline of the recall levels is one rule: the recall centre's
list and a recall's progress page both read it from `domain.recalls.notice_deadline`."""

from __future__ import annotations

from medledger.domain.recalls import DAY, ListedRecall, notice_deadline


def test_holders_are_to_be_reached_within_1_3_or_7_days_of_the_opening_block() -> None:
    opened = 1_700_000_000
    assert [notice_deadline(level, opened) - opened for level in (1, 2, 3)] == [
        DAY,
        3 * DAY,
        7 * DAY,
    ]
    assert notice_deadline(9, opened) == opened + 7 * DAY  # unknown: the longest term


def test_the_recall_list_states_the_same_deadline() -> None:
    listed = ListedRecall(4, 2, "09506000134352", "L1", 1_700_000_000, None)
    assert listed.open and listed.deadline == notice_deadline(2, 1_700_000_000)
