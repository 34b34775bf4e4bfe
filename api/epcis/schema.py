"""The official GS1 EPCIS 2.0 JSON schema (draft-07), loaded once per process, and the
check that turns its complaints into a short list of `{path, message}` problems."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError, relevance

from api.services import Services

__all__ = ["default_schema_file", "schema_errors", "validator"]

MAX_ERRORS = 20
MAX_MESSAGE = 300


def default_schema_file() -> Path:
    """`../shared/epcis/EPCIS-JSON-Schema.json` beside the repository checkout."""
    return Path(__file__).resolve().parents[3] / "shared" / "epcis" / "EPCIS-JSON-Schema.json"


def validator(services: Services) -> Draft7Validator:
    found = services.extras.get("epcis.validator")
    if found is None:
        path = services.settings.epcis_schema_file or default_schema_file()
        schema = json.loads(path.read_text())
        found = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
        services.extras["epcis.validator"] = found
    assert isinstance(found, Draft7Validator)
    return found


def _leaf(error: ValidationError) -> ValidationError:
    """The most specific reason under an anyOf/oneOf/if-then error."""
    while error.context:
        error = min(error.context, key=relevance)
    return error


def schema_errors(services: Services, document: Any) -> list[dict[str, str]]:
    """At most MAX_ERRORS problems, each with a JSON path and a message; [] if valid."""
    out: list[dict[str, str]] = []
    for error in sorted(validator(services).iter_errors(document), key=relevance):
        leaf = _leaf(error)
        message = leaf.message
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 1] + "…"
        out.append({"path": leaf.json_path, "message": message})
        if len(out) == MAX_ERRORS:
            break
    return out
