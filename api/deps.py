"""FastAPI dependency aliases shared by the route modules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Connection

from api.services import Services
from api.settings import ApiSettings

__all__ = ["ConnDep", "ServicesDep", "SettingsDep"]


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
