"""Bounded `limit`/`offset` query parameters for the list routes that page by offset.

    limit: Limit    page size: 1..1000 in the query, served as at most `max_page_size`
    offset: Offset  0..MAX_OFFSET, else a 422 `offset_out_of_range`

An offset no database can use (`?offset=99999999999999999999` overflows SQLite's and
PostgreSQL's 64-bit OFFSET) is refused here, before any query is built. The cursor pages of
`api.deps.PageDep` are bounded by the same MAX_OFFSET (nine digits).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from medledger.domain.errors import Unprocessable
from medledger.web.deps import SettingsDep

__all__ = ["MAX_OFFSET", "Limit", "Offset", "page_limit", "page_offset"]

MAX_OFFSET = 999_999_999


def page_limit(
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="page size")] = 50,
) -> int:
    """The page size asked for, at most `settings.max_page_size`."""
    return min(limit, settings.max_page_size)


def page_offset(
    offset: Annotated[int, Query(ge=0, description=f"rows to skip, at most {MAX_OFFSET}")] = 0,
) -> int:
    if offset > MAX_OFFSET:
        raise Unprocessable(
            "offset_out_of_range",
            f"offset {offset} is above the largest offset, {MAX_OFFSET}",
            max_offset=MAX_OFFSET,
        )
    return offset


Limit = Annotated[int, Depends(page_limit)]
Offset = Annotated[int, Depends(page_offset)]
