"""Crashes the fuzz targets found in code another change is fixing (issue 13).

While a crash is listed in `OPEN`, the targets let it pass (`tolerated`) so they keep
fuzzing everything else, and the target's module holds the failing input as an
`xfail(strict=True)` test: when the fix lands that test passes, strict xfail fails the
run, and the entry here and the xfail go, leaving the input as an `@example` on its
target.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from hypothesis import event

__all__ = ["OPEN", "Finding", "tolerated"]


@dataclass(frozen=True)
class Finding:
    """A known crash: its exception type and message, and the file it is raised through."""

    name: str
    exception: str
    message: str
    where: str

    def matches(self, exc: BaseException) -> bool:
        frames = "".join(f.filename for f in traceback.extract_tb(exc.__traceback__))
        return (
            type(exc).__name__ == self.exception
            and self.message in str(exc)
            and self.where in frames
        )


OPEN: tuple[Finding, ...] = ()  # none open: every crash found so far is fixed


@contextmanager
def tolerated() -> Iterator[None]:
    """Let a crash listed in `OPEN` pass (counted as a Hypothesis event); raise the rest."""
    try:
        yield
    except Exception as exc:
        found = next((f for f in OPEN if f.matches(exc)), None)
        if found is None:
            raise
        event(f"open finding: {found.name}")
