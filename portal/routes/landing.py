"""The root of the site (`/`): what a visitor who types the bare address sees. The verify
form and the way into the portal, in the visitor's language."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from medledger.portal.context import PageCtx

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/")
def landing(ctx: PageCtx) -> HTMLResponse:
    return ctx.render("landing.html", code="")
