"""Who may open the regulator's pages: a signed-in member whose role is regulator, on the
regulator's own deployment (`ApiSettings.regulator`), like the JSON routes they share
their logic with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from medledger.portal.context import Ctx, role_ctx
from medledger.portal.errors import PortalFailure
from medledger.sdk.model import Role

__all__ = ["Regulator"]


def _regulator_page(ctx: Annotated[Ctx, role_ctx(Role.REGULATOR)]) -> Ctx:
    if not ctx.services.settings.regulator:
        raise PortalFailure("regulator_mode_only", "start the API with --regulator")
    return ctx


Regulator = Annotated[Ctx, Depends(_regulator_page)]
