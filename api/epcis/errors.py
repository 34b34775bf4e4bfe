"""Errors of EPCIS capture, rendered as problem+json by the API's ApiError handler.

EpcisError                 (ApiError)
 ├── DocumentRefused       400/413  the body is not JSON, or is too large, deep or long
 ├── InvalidDocument       400  the document fails the GS1 EPCIS 2.0 JSON schema
 ├── UnsupportedEvent      422  valid EPCIS that the ledger has no operation for
 ├── SensorValueRefused    422  a sensor value not finite or outside its range (`field`)
 ├── CaptureInProgress     409  another request is capturing events of this document
 └── CaptureRefused        409/422  a ledger rule refused an event (named after it); says
                           which events were applied (`applied`), normally none
"""

from __future__ import annotations

from typing import Any

from medledger.domain.errors import ApiError

__all__ = [
    "CaptureInProgress",
    "CaptureRefused",
    "DocumentRefused",
    "EpcisError",
    "InvalidDocument",
    "SensorValueRefused",
    "UnsupportedEvent",
]


class EpcisError(ApiError):
    pass


class DocumentRefused(EpcisError):
    title = "EPCIS document refused"

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(code, detail, **extra)
        self.status = status


class InvalidDocument(EpcisError):
    status = 400
    title = "Invalid EPCIS document"

    def __init__(self, errors: list[dict[str, str]], *, max_errors: int) -> None:
        more = f" (the first {max_errors} are listed)" if len(errors) >= max_errors else ""
        super().__init__(
            "epcis_schema_invalid",
            f"the document breaks the EPCIS 2.0 JSON schema in {len(errors)} place(s){more}",
            errors=errors,
        )


class UnsupportedEvent(EpcisError):
    status = 422
    title = "Unsupported EPCIS event"

    def __init__(self, index: int, detail: str, **extra: Any) -> None:
        super().__init__("epcis_unsupported_event", f"event {index}: {detail}", event_index=index)
        self.extra.update(extra)


class SensorValueRefused(EpcisError):
    status = 422
    title = "Sensor value refused"

    def __init__(self, code: str, index: int, field: str, detail: str, **extra: Any) -> None:
        super().__init__(code, f"event {index}: {detail}", event_index=index, field=field)
        self.extra.update(extra)


class CaptureInProgress(EpcisError):
    status = 409
    title = "Capture in progress"

    def __init__(self, indexes: list[int]) -> None:
        super().__init__(
            "epcis_capture_in_progress",
            f"event(s) {indexes} of this document are being captured by another request; "
            "post the document again when it has finished",
            event_indexes=indexes,
        )


class CaptureRefused(EpcisError):
    title = "Refused by a ledger rule"

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(code, detail, **extra)
        self.status = status
