"""The pending state of a write the read model has not shown yet: the page after it says
so (a banner, `pending` in the template) instead of a list silently lacking the new row.
A redirect carries it to the next page as a `pending=1` query parameter."""

from __future__ import annotations

from medledger.domain.partner_schemas import OperationOut

__all__ = ["pending_param"]


def pending_param(*writes: OperationOut) -> str:
    """`pending=1&`, to put first in the next page's query, if any of `writes` is not
    indexed yet; else nothing."""
    return "" if all(w.indexed for w in writes) else "pending=1&"
