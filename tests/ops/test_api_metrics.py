"""The API's Prometheus metrics: one latency series per route template and status class."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def _count(metrics: str, route: str, status: str) -> float:
    pattern = (
        r'medledger_api_request_seconds_count\{method="GET",route="'
        + re.escape(route)
        + r'",status="'
        + status
        + r'"\} (\S+)'
    )
    found = re.search(pattern, metrics)
    return float(found.group(1)) if found else 0.0


def test_requests_are_counted_by_route_template_and_status_class(offline_api: TestClient):
    for _ in range(3):
        assert offline_api.get("/healthz").status_code == 200
    # Two different malformed codes on the same Digital Link route: one series, 4xx.
    offline_api.get("/01/09506000134353/21/A")
    offline_api.get("/01/09506000134354/21/B")
    assert offline_api.get("/no/such/page").status_code == 404
    metrics = offline_api.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert _count(text, "/healthz", "2xx") == 3
    assert _count(text, "/01/{gtin}/21/{serial}", "4xx") == 2
    assert _count(text, "unmatched", "4xx") == 1
    assert "medledger_api_requests_in_flight" in text
    assert 'le="0.005"' in text  # a histogram, with buckets
