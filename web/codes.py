"""The path parameter by which every route names an item, a container or a lot.

Declared with Starlette's `path` convertor (`{item:path}`) so a Digital Link URI, with its
slashes, fits (percent-encoded or not); the value is read by `domain.codes`, which answers
an empty or unreadable code with a 400 problem+json (`empty`, `invalid_code`, a GS1
reason) instead of FastAPI's 422.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from medledger.domain.codes import MAX_CODE_LENGTH

__all__ = ["CODE_FORMS", "CodeParam", "LotCodeParam"]

CODE_FORMS = (
    "its 32-byte id (hex, with or without 0x) or any GS1 code form: element string "
    "`(01)09506000134352(21)SN0001` or without parentheses (FNC1/GS separated, `]d2` "
    "prefix allowed), Digital Link URI `https://id.example/01/09506000134352/21/SN0001` "
    "(percent-encoded or not) or its path, a bare 18-digit SSCC"
)

CodeParam = Annotated[
    str,
    Path(
        max_length=MAX_CODE_LENGTH,
        description=f"the item or container: {CODE_FORMS}",
        examples=["(01)09506000134352(21)SN0001"],
    ),
]
LotCodeParam = Annotated[
    str,
    Path(
        max_length=MAX_CODE_LENGTH,
        description="the lot: its 32-byte key or a GS1 code with a GTIN and a lot (AI 10), "
        "e.g. `(01)09506000134352(10)L2026-07`",
        examples=["(01)09506000134352(10)L2026-07"],
    ),
]
