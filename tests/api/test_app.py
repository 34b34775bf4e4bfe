from __future__ import annotations

from tests.api.conftest import ApiEnv


def test_health_answers_ok(api: ApiEnv) -> None:
    response = api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_an_unknown_route_is_a_problem_json_404_with_a_code(api: ApiEnv) -> None:
    response = api.client.get("/v1/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "not_found"
    assert body["status"] == 404


def test_the_openapi_document_is_served(api: ApiEnv) -> None:
    response = api.client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "MedLedger API"
