"""The words of a verdict: what it can be (`Verdict`) and why (`ReasonCode`). Their values
are what the API answers; the portal words each of them in zh-CN and English
(`portal.routes.verify`, checked by tests/portal/test_verify_reasons.py)."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = ["PRECEDENCE", "ReasonCode", "Scope", "Severity", "Verdict"]


class ReasonCode(StrEnum):
    """Why a verdict is what it is: the `code` of each `Reason` (its text is English; the
    portal's verification page words each code in zh-CN and English)."""

    COMMISSIONED = "commissioned"
    CONTAINER = "container"
    UNKNOWN_CONTAINER = "unknown_container"
    UNKNOWN_PRODUCT = "unknown_product"
    UNKNOWN_SERIAL = "unknown_serial"
    SERIAL_UNDER_OTHER_LOT = "serial_under_other_lot"
    LOT_MISMATCH = "lot_mismatch"
    EXPIRY_MISMATCH = "expiry_mismatch"
    RECALLED = "recalled"
    RECALL_CLOSED_OUTSTANDING = "recall_closed_outstanding"
    EXPIRED = "expired"
    REGISTRATION_EXPIRED = "registration_expired"
    DISPENSED = "dispensed"
    DESTROYED = "destroyed"
    SCANNED_AFTER_DISPENSED = "scanned_after_dispensed"
    SCANNED_AFTER_DESTROYED = "scanned_after_destroyed"
    QUARANTINED = "quarantined"
    IN_TRANSIT = "in_transit"
    TWO_PLACES = "two_places"
    LOT_REGISTERED = "lot_registered"
    UNKNOWN_LOT = "unknown_lot"
    LOT_CODE_NOT_UNIQUE = "lot_code_not_unique"


class Verdict(StrEnum):
    GENUINE = "genuine"
    UNKNOWN = "unknown"
    SUSPECT = "suspect"
    RECALLED = "recalled"
    EXPIRED = "expired"
    DISPENSED = "dispensed"
    DESTROYED = "destroyed"


class Scope(StrEnum):
    """What a scanned code names: one serialised unit, a logistic unit (SSCC), or a whole
    lot (GTIN + lot, no serial: it cannot prove one box unique)."""

    UNIT = "unit"
    CONTAINER = "container"
    LOT = "lot"


class Severity(StrEnum):
    """How much a reason weighs for the person scanning."""

    INFO = "info"
    WARNING = "warning"
    ALERT = "alert"


# Most serious first; a verdict with none of these reasons is genuine.
PRECEDENCE: Final = (
    Verdict.UNKNOWN,
    Verdict.SUSPECT,
    Verdict.RECALLED,
    Verdict.DESTROYED,
    Verdict.DISPENSED,
    Verdict.EXPIRED,
)
