"""Form input of the regulator's pages checked against the limits the domain declares
for each order (`domain.recalls`, `domain.regulator`), with field errors in the page's
language (pydantic's own messages are English-only)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from medledger.domain.partners import (
    DeviceClasses,
    LicenceKindName,
    LicenceNumber,
    LicenceScope,
    LicenceText,
    LicenceValidUntil,
    MemberAddress,
)
from medledger.domain.recalls import (
    Gtin,
    LotNumber,
    RecallAction,
    RecallContact,
    RecallLevel,
    RecallReason,
    RecallScopeText,
)
from medledger.portal.errors import FormError
from medledger.sdk.dates import day_end

__all__ = ["LicenceForm", "RecallForm", "end_of_day", "parse_form"]

M = TypeVar("M", bound=BaseModel)


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecallForm(_Form):
    gtin: Gtin
    lot: LotNumber
    level: RecallLevel
    reason: RecallReason
    action: RecallAction = ""
    scope: RecallScopeText = ""
    contact: RecallContact = ""


class LicenceForm(_Form):
    member: MemberAddress
    kind: LicenceKindName
    number: LicenceNumber
    device_classes: DeviceClasses
    valid_until: LicenceValidUntil
    authority: LicenceText = ""
    scope: LicenceScope = []
    warehouse_address: LicenceText = ""
    province: LicenceText = ""


def parse_form(
    model: type[M],
    data: Mapping[str, object],
    *,
    hints: Mapping[str, str],
    gettext: Callable[[str], str],
) -> M:
    """`model` validated from `data`; a FormError naming each bad field with its hint."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "form"
            fields[name] = gettext(hints[name]) if name in hints else error["msg"]
        raise FormError("invalid_request", str(exc), fields) from exc


def end_of_day(text: str, *, field: str, message: str) -> int:
    """Unix seconds of 23:59:59 of an ISO date `YYYY-MM-DD` in the consortium's time zone."""
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError as exc:
        raise FormError("invalid_request", f"{text!r} is not a date", {field: message}) from exc
    return day_end(day)
