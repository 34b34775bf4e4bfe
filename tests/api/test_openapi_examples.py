"""Every operation of the OpenAPI document carries an example of its request body and of
its success answer, and every error answer an example problem; each example conforms to
its own schema. A new route without examples fails here: give its models
`model_config = example({...})` (`domain.api_examples`) or its route `responses=`.

`NOT_YET` lists the operations (of other domains) still without examples when this test
was written; it may only shrink: an operation that gains its examples must leave it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jsonschema import Draft202012Validator
from web3 import Web3

from medledger.app import create_app
from medledger.domain.services import Services
from medledger.domain.settings import ApiSettings
from medledger.indexer.db import make_engine

NOT_YET = frozenset(
    {
        "GET /healthz",
        "GET /v1/verify",
        "POST /v1/verify",
        "GET /v1/partner/oversight/scans",
        "GET /.well-known/medledger-verify-key",
        "GET /01/{gtin}/21/{serial}",
        "GET /01/{gtin}/10/{lot}/21/{serial}",
        "GET /01/{gtin}/10/{lot}",
        "GET /00/{sscc}",
        "PUT /v1/partner/products/{gtin}/master",
        "GET /v1/devices/{gtin}",
        "GET /v1/partner/oversight/master-records",
        "GET /v1/partner/qualification",
        "PUT /v1/partner/qualification/policy",
        "GET /v1/partner/licences",
        "POST /v1/partner/qualification/suppliers",
        "POST /v1/partner/qualification/suppliers/withdraw",
        "POST /v1/partner/qualification/products",
        "POST /v1/partner/qualification/products/withdraw",
        "POST /v1/partner/shipments/{shipment_id}/acceptance",
        "GET /v1/partner/shipments/{shipment_id}/acceptance",
        "POST /v1/partner/documents",
        "GET /v1/partner/documents",
        "POST /v1/partner/documents/upload",
        "GET /v1/partner/documents/{document_id}",
        "POST /v1/partner/recalls/{recall_id}/acknowledgement",
        "POST /v1/partner/recalls/notice",
        "POST /v1/partner/recalls/{recall_id}/notice",
        "GET /v1/partner/recalls/{recall_id}/notice",
        "POST /v1/partner/recalls/{recall_id}/close",
        "GET /v1/partner/recalls",
        "GET /v1/regulator/recalls/{recall_id}/acknowledgements",
        "GET /v1/partner/oversight/acknowledgements",
        "GET /v1/regulator/recalls/{recall_id}/summary",
        "GET /v1/partner/recalls/{recall_id}/summary",
        "GET /v1/epcis/events",
        "POST /v1/epcis/capture",
        "POST /v1/partner/adverse-events",
        "GET /v1/partner/adverse-events",
        "GET /v1/partner/adverse-events/{record_id}",
        "GET /v1/regulator/adverse-events",
        "GET /v1/regulator/adverse-events/{record_id}",
        "POST /v1/partner/returns",
        "POST /v1/partner/explants",
        "POST /v1/partner/service-records",
        "GET /v1/partner/return-inspections",
        "POST /v1/partner/shipments/{shipment_id}/return-inspection",
        "POST /v1/exports/verify",
        "GET /v1/partner/oversight/records",
        "POST /v1/partner/oversight/records",
    }
)


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The app's OpenAPI document; building it reaches no chain and no database."""
    root: Path = tmp_path_factory.mktemp("openapi")
    settings = ApiSettings(
        db_url=f"sqlite:///{root / 'api.db'}",
        data_dir=root / "api",
        deployment_file=root / "deployment.json",
    )
    services = Services(
        settings=settings,
        engine=make_engine(settings.db_url),
        w3=Web3(),
        deployment=None,  # type: ignore[arg-type]
        artifacts={},
        platform_key=Ed25519PrivateKey.generate(),
    )
    doc: dict[str, Any] = create_app(services).openapi()
    services.engine.dispose()
    return doc


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _examples(doc: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    """The examples a media type shows: its own, or its schema's (an array's items')."""
    if "example" in media:
        return [media["example"]]
    if "examples" in media:
        return [e["value"] for e in media["examples"].values() if "value" in e]
    schema = _resolve(doc, media.get("schema", {}))
    if "examples" in schema:
        return list(schema["examples"])
    if schema.get("type") == "array":
        items = _resolve(doc, schema.get("items", {}))
        return [[e] for e in items.get("examples", [])]
    return []


def _media(operation: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    body = operation.get("requestBody", {})
    for content_type, media in body.get("content", {}).items():
        yield f"request {content_type}", media
    for status, answer in operation.get("responses", {}).items():
        for content_type, media in answer.get("content", {}).items():
            yield f"{status} {content_type}", media


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def test_every_operation_has_examples_of_its_bodies_and_answers(document: dict[str, Any]) -> None:
    lacking = {
        f"{label}: {where}"
        for label, operation in _operations(document)
        if label not in NOT_YET
        for where, media in _media(operation)
        if not _examples(document, media)
    }
    assert not lacking, "operations without examples:\n" + "\n".join(sorted(lacking))


def test_the_list_of_operations_without_examples_only_shrinks(document: dict[str, Any]) -> None:
    labels = dict(_operations(document))
    gone = NOT_YET - set(labels)
    assert not gone, f"no longer in the API, drop from NOT_YET: {sorted(gone)}"
    complete = {
        label
        for label in NOT_YET
        if all(_examples(document, media) for _, media in _media(labels[label]))
    }
    assert not complete, f"these have their examples now, drop from NOT_YET: {sorted(complete)}"


def _with_nulls(doc: dict[str, Any], schema: dict[str, Any], value: Any) -> Any:
    """`value` with the nullable properties put back that FastAPI drops from the examples
    it serves (it encodes the document with `exclude_none`)."""
    schema = _resolve(doc, schema)
    if isinstance(value, list) and "items" in schema:
        return [_with_nulls(doc, schema["items"], v) for v in value]
    if not isinstance(value, dict) or "properties" not in schema:
        return value
    filled = {k: _with_nulls(doc, schema["properties"].get(k, {}), v) for k, v in value.items()}
    for name, prop in schema["properties"].items():
        options = _resolve(doc, prop).get("anyOf", [])
        if name not in filled and {"type": "null"} in options:
            filled[name] = None
    return filled


def test_every_example_conforms_to_its_schema(document: dict[str, Any]) -> None:
    wrong = []
    for label, operation in _operations(document):
        for where, media in _media(operation):
            schema = {**media.get("schema", {}), "components": document["components"]}
            validator = Draft202012Validator(schema)
            for example in _examples(document, media):
                filled = _with_nulls(document, media.get("schema", {}), example)
                errors = [e.message for e in validator.iter_errors(filled)]
                if errors:
                    wrong.append(f"{label} {where}: {errors[0]}")
    assert not wrong, "\n".join(wrong)


def test_the_api_key_body_and_the_problem_answers_are_documented(
    document: dict[str, Any],
) -> None:
    create_key = document["paths"]["/v1/auth/api-keys"]["post"]
    (body,) = _examples(document, create_key["requestBody"]["content"]["application/json"])
    assert set(body) == {"label"}
    problem = create_key["responses"]["4XX"]["content"]["application/problem+json"]
    assert {"code", "status", "detail"} <= set(_examples(document, problem)[0])
