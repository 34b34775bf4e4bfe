"""A structured adverse-event report body for the API tests."""

from __future__ import annotations

from typing import Any


def report_body(
    subject: str, *, severity: int = 2, narrative: str = "lead fracture"
) -> dict[str, Any]:
    return {
        "subject_id": subject,
        "severity": severity,
        "event_date": "2026-03-02",
        "outcome": "injury",
        "device_problem_code": "A0501",
        "device_problem": "fracture of the lead",
        "patient_age_band": "65-79",
        "patient_sex": "female",
        "narrative": narrative,
    }
