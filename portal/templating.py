"""The portal's Jinja2 environment: templates under `portal/templates/`, autoescaped.

Templates get `ctx` (portal.context.Ctx), `_`/`gettext` (the request's translation), `fmt`
(portal.i18n.Formatter), `word` (an enum value's name in words, portal.vocabulary),
`error`/`field_errors` (a failed action) and the page's values.
Pages extend `base.html` and fill `{% block title %}` and `{% block content %}`; form
fields use the macros in `forms.html` (a label for every control, errors beside it).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

__all__ = ["TEMPLATES", "templates"]

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
