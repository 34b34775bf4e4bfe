"""FastAPI dependency aliases shared by the route modules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.engine import Connection

from medledger.domain.errors import Unprocessable
from medledger.domain.services import Services
from medledger.domain.settings import ApiSettings

__all__ = ["ConnDep", "Page", "PageDep", "ServicesDep", "SettingsDep"]


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_settings(services: Annotated[Services, Depends(get_services)]) -> ApiSettings:
    return services.settings


def get_conn(services: Annotated[Services, Depends(get_services)]) -> Iterator[Connection]:
    with services.engine.connect() as conn:
        yield conn


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
ConnDep = Annotated[Connection, Depends(get_conn)]


class Page:
    """Capped pagination of a list route: `limit` (at most `settings.max_page_size`, else a
    422 `page_too_large`) and an opaque `cursor`, the offset the previous page ended at."""

    def __init__(self, limit: int, offset: int) -> None:
        self.limit = limit
        self.offset = offset

    def next_cursor(self, total: int) -> str | None:
        end = self.offset + self.limit
        return str(end) if end < total else None


def get_page(
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, description="page size, at most max_page_size")] = 50,
    cursor: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,9}$", description="from the previous page")
    ] = None,
) -> Page:
    if limit > settings.max_page_size:
        raise Unprocessable(
            "page_too_large",
            f"limit {limit} is above the largest page, {settings.max_page_size}",
            max_page_size=settings.max_page_size,
        )
    return Page(limit, int(cursor) if cursor else 0)


PageDep = Annotated[Page, Depends(get_page)]
