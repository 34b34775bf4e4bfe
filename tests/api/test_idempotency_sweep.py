"""Every POST of the app's OpenAPI document, retried with the same Idempotency-Key, acts
once: the second answer is the first, byte for byte, with `Idempotent-Replayed: true`, and
neither the chain nor any table of the API store or the EPCIS capture log changed on the
retry. Bodies come from the authorisation sweep's values (`test_authorisation_sweep`),
sent by the owner of the objects they name (partner B) so that most writes succeed; a
POST added later fails here until the sweep has a value for its body. Regulator routes
are swept on the regulator-mode app; routes without credentials ignore the header.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from medledger.api.epcis.store import capture_store
from medledger.domain.store import api_store
from medledger.indexer.store.tables import API_TABLES, CAPTURE_TABLES
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv
from tests.api.regulator_mode import AUTH, regulator_client
from tests.api.test_authorisation_sweep import (
    World,
    _build_world,
    _not_configured,
    _operations,
    _requests,
)

partner = partner_env.partner

BOUNDARY = "idempotency-sweep-boundary"  # a multipart retry sends the same bytes


def _state(world: World) -> tuple[Any, ...]:
    """What a second run of a POST would change: the chain's head and the rows of every
    table of the API store and the EPCIS capture log."""
    services = world.partner.api.services
    counts = []
    for engine, tables in (
        (api_store(services).engine, API_TABLES),
        (capture_store(services).engine, CAPTURE_TABLES),
    ):
        with engine.connect() as conn:
            for table in tables:
                count = conn.execute(select(func.count()).select_from(table)).scalar_one()
                counts.append((table.name, count))
    return world.partner.api.chain.w3.eth.block_number, tuple(counts)


def _send(client: TestClient, url: str, query: dict[str, Any], body: dict[str, Any],
          headers: dict[str, str]) -> Response:  # fmt: skip
    if "files" in body:
        headers = {**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    return client.post(url, params=query, headers=headers, **body)


def _check_retry(world: World, client: TestClient, label: str, request: Any,
                 headers: dict[str, str]) -> list[str]:  # fmt: skip
    url, query, body = request
    keyed = {**headers, "Idempotency-Key": f"sweep {label}"}
    first = _send(client, url, query, body, keyed)
    if first.status_code >= 500:
        if _not_configured(first):  # not kept: a retry runs again
            return []
        return [f"{label}: {first.status_code} {first.text[:200]}"]
    acted = _state(world)
    again = _send(client, url, query, body, keyed)
    problems = []
    call = f"{label} ({url}), first {first.status_code} {first.text[:160]}"
    if again.headers.get("idempotent-replayed") != "true":
        problems.append(f"{call}: the retry was not replayed: {again.status_code} {again.text}")
    if (again.status_code, again.content) != (first.status_code, first.content):
        problems.append(f"{call}: the retry answered {again.status_code} {again.text[:160]}")
    if again.headers.get("content-type") != first.headers.get("content-type"):
        problems.append(f"{call}: the retry's content type differs")
    if (after := _state(world)) != acted:
        problems.append(f"{call}: the retry acted again: {acted} -> {after}")
    return problems


def test_every_post_retried_with_the_same_key_acts_once_and_answers_the_same(
    partner: PartnerEnv,
) -> None:
    world = _build_world(partner)
    client = world.client
    regulator = regulator_client(partner.api)
    spec = client.app.openapi()  # type: ignore[attr-defined]
    b_headers = partner.login(world.b)
    posts = [(path, method) for path, method in _operations(spec) if method == "post"]
    failures: list[str] = []
    swept, acted = set(), 0
    for path, method in posts:
        op = spec["paths"][path][method]
        label = f"POST {path}"
        request = next(_requests(spec, path, method, world))
        if not op.get("security"):
            url, query, body = request
            keyed = {"Idempotency-Key": f"sweep {label}"}
            answers = [_send(client, url, query, body, keyed) for _ in range(2)]
            if any("idempotent-replayed" in a.headers for a in answers):
                failures.append(f"{label}: a route without credentials replayed an answer")
        elif "regulator" in op.get("tags", []):
            failures += _check_retry(world, regulator, label, request, AUTH)
        else:
            before = _state(world)
            failures += _check_retry(world, client, label, request, b_headers)
            acted += _state(world) != before
        swept.add(label)
    assert not failures, "\n".join(failures)
    assert swept == {f"POST {p}" for p, m in posts}
    assert len(swept) >= 50
    assert acted >= 25, f"only {acted} partner POSTs changed anything: the sweep proves little"
