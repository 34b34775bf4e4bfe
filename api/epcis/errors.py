"""Errors of EPCIS capture, rendered as problem+json by the API's ApiError handler.

EpcisError                 (ApiError)
 ├── InvalidDocument       400  the document fails the GS1 EPCIS 2.0 JSON schema
 ├── UnsupportedEvent      422  valid EPCIS that the ledger has no operation for
 └── CaptureRefused        409/422  a ledger rule refused an event (named after it)
"""

from __future__ import annotations

from typing import Any

from api.errors import ApiError

__all__ = ["CaptureRefused", "EpcisError", "InvalidDocument", "UnsupportedEvent"]


class EpcisError(ApiError):
    pass


class InvalidDocument(EpcisError):
    status = 400
    title = "Invalid EPCIS document"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(
            "epcis_schema_invalid",
            f"the document breaks the EPCIS 2.0 JSON schema in {len(errors)} place(s)",
            errors=errors,
        )


class UnsupportedEvent(EpcisError):
    status = 422
    title = "Unsupported EPCIS event"

    def __init__(self, index: int, detail: str, **extra: Any) -> None:
        super().__init__("epcis_unsupported_event", f"event {index}: {detail}", event_index=index)
        self.extra.update(extra)


class CaptureRefused(EpcisError):
    title = "Refused by a ledger rule"

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(code, detail, **extra)
        self.status = status
