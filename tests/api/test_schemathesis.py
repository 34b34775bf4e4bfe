"""Schemathesis over the app's own OpenAPI document, every operation, in partner mode and
in regulator mode (with the staff token): no 5xx, every response documented and
conforming to its schema, and invalid input rejected. Bounded to ~20 examples per
operation (fewer for negative data).

The real app of the `api` fixture is loaded through schemathesis' ASGI loader; the
operations are walked here rather than with `schemathesis.pytest.from_fixture`, which
does not run under pytest 9.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.api.conftest import ApiEnv
from tests.api.regulator_mode import AUTH, regulator_client

# Examples per operation: enough to reach each route's branches, small enough that both
# app modes run in about a minute.
EXAMPLES = {"positive": 12, "negative": 6}
# A schema-valid string can still be a bad GS1 code or an unknown id: those 400/404s are
# the API's semantic checks, not a contract breach.
# A 503 "Not configured" is a deliberate answer of a feature whose secret this fixture
# does not set (another route's CA file, say); any other 5xx is a failure.
EXCLUDED = [schemathesis.checks.positive_data_acceptance, schemathesis.checks.not_a_server_error]


def no_server_error(ctx: Any, response: Any, case: Any) -> None:
    if response.status_code < 500:
        return
    if response.status_code == 503 and response.json().get("title") == "Not configured":
        return
    raise AssertionError(f"{case.method} {case.formatted_path}: {response.status_code}")


def _bounded(mode: GenerationMode) -> settings:
    return settings(
        max_examples=EXAMPLES[mode.value],
        deadline=None,
        database=None,
        derandomize=True,  # the same examples in every run: CI does not flake on a seed
        suppress_health_check=list(HealthCheck),
    )


def _fuzz(
    app: FastAPI,
    headers: dict[str, str] | None,
    prefixes: tuple[str, ...] = ("/",),
    extra_excluded: list[Any] | None = None,
) -> list[str]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(prefixes):
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode, headers=headers))
            @_bounded(mode)
            def check(case: Any) -> None:
                case.call_and_validate(
                    excluded_checks=EXCLUDED + (extra_excluded or []),
                    additional_checks=[no_server_error],
                )

            try:
                check()
            except Unsatisfiable:
                continue  # nothing to negate: the operation takes no constrained input
            except Exception as exc:  # collect every operation's failure, then report
                found = getattr(exc, "exceptions", ())  # Hypothesis groups distinct failures
                details = "".join(f"\n  - {e!r}"[:2000] for e in found)
                failures.append(f"{operation.label} [{mode.value}]: {exc}{details}")
    return failures


def test_every_partner_mode_route_keeps_its_openapi_contract(api: ApiEnv) -> None:
    failures = _fuzz(api.client.app, None)  # type: ignore[arg-type]
    assert not failures, "\n\n".join(failures)


def test_every_regulator_mode_route_keeps_its_openapi_contract(api: ApiEnv) -> None:
    # Only the routes whose behaviour changes with the mode; partner mode covers the rest.
    prefixes = ("/v1/regulator", "/v1/trace", "/v1/epcis")
    # The staff token is a fixed valid header, so a request with it and a generated
    # X-API-Key rightly succeeds: schemathesis' ignored-auth check does not apply.
    ignored_auth = [schemathesis.checks.ignored_auth]
    app = regulator_client(api).app
    failures = _fuzz(app, AUTH, prefixes, ignored_auth)  # type: ignore[arg-type]
    assert not failures, "\n\n".join(failures)


def test_the_fuzzer_reaches_every_route(api: ApiEnv) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    labels = {r.ok().label for r in schema.get_all_operations()}
    assert {"GET /v1/trace/items/{item}/history", "POST /v1/epcis/capture"} <= labels
