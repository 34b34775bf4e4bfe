"""The official GS1 EPCIS 2.0 JSON schema (draft-07), loaded once per process, and the
check that turns its complaints into a short list of `{path, message}` problems.

The schema ships inside this package (`reference/EPCIS-JSON-Schema.json`, package data;
see its README for the source and GS1's licence note); `settings.epcis_schema_file` may
name another copy. The check stops at the first MAX_ERRORS complaints: the validator
yields them lazily, so a document of a thousand bad events costs what its first few do.
"""

from __future__ import annotations

import json
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError, relevance

from medledger.domain.services import Component, Services

__all__ = ["MAX_ERRORS", "schema_errors", "schema_text", "validator"]

MAX_ERRORS = 20
MAX_MESSAGE = 300
SCHEMA_RESOURCE = "reference/EPCIS-JSON-Schema.json"


def schema_text(path: Path | None = None) -> str:
    """The schema's JSON text: from `path`, else the copy shipped in this package."""
    if path is not None:
        return path.read_text()
    return resources.files("medledger.api.epcis").joinpath(SCHEMA_RESOURCE).read_text()


VALIDATOR: Component[Draft7Validator] = Component("epcis.validator")


def validator(services: Services) -> Draft7Validator:
    def make() -> Draft7Validator:
        schema = json.loads(schema_text(services.settings.epcis_schema_file))
        return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)

    return services.components.get(VALIDATOR, make)


def _leaf(error: ValidationError) -> ValidationError:
    """The most specific reason under an anyOf/oneOf/if-then error."""
    while error.context:
        error = min(error.context, key=relevance)
    return error


def schema_errors(services: Services, document: Any) -> list[dict[str, str]]:
    """The first MAX_ERRORS problems (most relevant first), each with a JSON path and a
    message; [] if the document is valid."""
    first = islice(validator(services).iter_errors(document), MAX_ERRORS)
    out: list[dict[str, str]] = []
    for error in sorted(first, key=relevance):
        leaf = _leaf(error)
        message = leaf.message
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 1] + "…"
        out.append({"path": leaf.json_path, "message": message})
    return out
