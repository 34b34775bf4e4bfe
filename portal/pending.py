"""The pending state of a write the read model has not shown yet: the page after it says
so (a banner, `pending` in the template) instead of a list silently lacking the new row.
A redirect carries it to the next page as a `pending=1` query parameter."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Settled", "pending_param"]


class Settled(Protocol):
    """A write's answer: whether the read model showed its block before the answer."""

    @property
    def indexed(self) -> bool: ...


def pending_param(*writes: Settled) -> str:
    """`pending=1&`, to put first in the next page's query, if any of `writes` is not
    indexed yet; else nothing."""
    return "" if all(w.indexed for w in writes) else "pending=1&"
