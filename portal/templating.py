"""The portal's Jinja2 environment: templates under `portal/templates/`, autoescaped.

Templates get `ctx` (portal.context.Ctx), `_`/`gettext` (the request's translation), `fmt`
(portal.i18n.Formatter), `word` (an enum value's name in words, portal.vocabulary),
`error`/`field_errors` (a failed action) and the page's values.
Pages extend `base.html` and fill `{% block title %}` and `{% block content %}`; form
fields use the macros in `forms.html` (a label for every control, errors beside it).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from medledger.indexer.queries.devices import LotRow

__all__ = ["TEMPLATES", "templates"]

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _pairs(values: Iterable[object]) -> list[tuple[str, str]]:
    """Select options whose value and text are the same (filter `zip_self`)."""
    return [(str(v), str(v)) for v in values]


def _lot_options(lots: Iterable[LotRow]) -> list[tuple[str, str]]:
    return [("0x" + lot.lot_key.hex(), f"{lot.gtin} · {lot.lot_number}") for lot in lots]


@cache
def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["zip_self"] = _pairs
    env.globals["lot_options"] = _lot_options
    return env
