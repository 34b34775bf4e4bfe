"""Fuzz target: public verification over the real app on a real chain: `GET` and `POST
/v1/verify` and the GS1 Digital Link resolver paths, with damaged codes, places, API keys,
Accept headers and raw bodies. Every answer is a 2xx or a 4xx; a 4xx is problem+json
with a machine-readable code (or the resolver's page for a browser)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from fastapi.testclient import TestClient
from hypothesis import event, example, given, reject
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from tests.fuzz.budget import fuzz
from tests.fuzz.known import tolerated
from tests.fuzz.mutate import HOSTILE_STRINGS, json_body, mutated_text
from tests.fuzz.seeds import HOSTS, Code, codes, gtins, serials, ssccs

hostile_codes = st.one_of(codes(), codes().flatmap(mutated_text), st.text(max_size=40))
countries = st.one_of(
    st.none(),
    st.sampled_from(["CN", "US", "AQ", "KP", "ZZ", "cn", "", "C", "USA"]),
    st.sampled_from(HOSTILE_STRINGS),
)
regions = st.one_of(st.none(), st.sampled_from(["31", "1", "ABCD", "", "-1"]), st.text(max_size=4))
coordinates = st.one_of(
    st.none(), st.floats(), st.sampled_from(["1e308", "NaN", "-inf", "91", "x", ""])
)
api_keys = st.one_of(
    st.none(),
    st.sampled_from(["mlk_x_y", "mlk__", "mlk_" + "a" * 500, "\x00", "é"]),
    st.text(max_size=40),
)
accepts = st.sampled_from(
    ["application/json", "text/html", "*/*", "", "application/json;q=x", "text/html;q=NaN"]
)


def assert_handled(response: httpx.Response) -> None:
    """A 2xx, or a 4xx that says why in problem+json (or in the resolver's HTML page)."""
    _note(f"HTTP {response.status_code}")
    assert response.status_code < 500, (response.status_code, response.text[:500])
    assert 200 <= response.status_code < 300 or 400 <= response.status_code < 500
    if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
        code = response.json().get("code")
        assert isinstance(code, str), response.text[:500]
        _note(f"HTTP {response.status_code} {code}")


def _note(what: str) -> None:
    """Count an answer class in `--hypothesis-show-statistics` (what the target reached)."""
    if currently_in_test_context():
        event(what)


def _headers(**values: str | None) -> dict[str, str]:
    """Headers a client could send: the ones set, and only if httpx can send them."""
    headers = {k: v for k, v in values.items() if v is not None}
    try:
        httpx.Headers(headers).raw  # noqa: B018 - encodes them, as sending would
        for value in headers.values():
            value.encode("latin-1")
    except (UnicodeEncodeError, ValueError):
        reject()
    return headers


def _get(client: TestClient, url: str, headers: dict[str, str]) -> httpx.Response:
    try:
        return client.get(url, headers=headers)
    except httpx.InvalidURL:
        reject()


@fuzz(250)
@given(
    code=hostile_codes,
    country=countries,
    region=regions,
    lat=coordinates,
    lon=coordinates,
    key=api_keys,
)
@example(code="http://x]/", country=None, region=None, lat=None, lon=None, key=None)
@example(code="(01)09506000134352(21)SN1", country="US", region=None, lat=None, lon=None, key="x")
def test_any_scan_by_query_is_answered_with_a_verdict_or_a_4xx(
    unlimited: TestClient, code: str, country: Any, region: Any, lat: Any, lon: Any, key: Any
) -> None:
    params = {"code": code, "country": country, "region": region, "lat": lat, "lon": lon}
    query = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items() if v is not None)
    with tolerated():
        assert_handled(_get(unlimited, "/v1/verify?" + query, _headers(**{"X-API-Key": key})))


def _body(code: str) -> dict[str, Any]:
    return {"code": code, "location": {"country": "CN", "region": "31"}}


@fuzz(250)
@given(
    body=st.one_of(
        codes().flatmap(lambda c: json_body(_body(c))),
        hostile_codes.map(lambda c: json_body({"code": c})).flatmap(lambda s: s),
    ),
    content_type=st.sampled_from(["application/json", "text/plain", "", "application/x-www-form"]),
)
@example(body=b'{"code": "http://x]/"}', content_type="application/json")
@example(body=b'{"code": "(01)09506000134352(21)SN1", "location": {"lat": NaN}}',
         content_type="application/json")  # fmt: skip
def test_any_body_posted_to_verify_is_answered_with_a_verdict_or_a_4xx(
    unlimited: TestClient, body: bytes, content_type: str
) -> None:
    with tolerated():
        response = unlimited.post(
            "/v1/verify", content=body, headers=_headers(**{"Content-Type": content_type})
        )
        assert_handled(response)


@st.composite
def resolver_paths(draw: st.DrawFn) -> str:
    """A Digital Link path on our own host, maybe damaged, with a maybe hostile query."""
    lot = draw(st.none() | serials)
    unit = Code(gtin=draw(gtins), sscc=None, lot=lot, serial=draw(serials), expiry=None)
    container = Code(gtin=None, sscc=draw(ssccs), lot=None, serial=None, expiry=None)
    link = draw(st.sampled_from([unit, container])).digital_link(HOSTS[0])
    path = link.removeprefix(HOSTS[0])
    if draw(st.booleans()):
        path = draw(mutated_text(path))
    query = draw(st.sampled_from(["", "?17=281231", "?17=991399", "?17=", "?11=x&17=1", "?%"]))
    return path + query


@fuzz(250)
@given(path=resolver_paths(), accept=accepts)
@example(path="/01/09506000134352/21/%00", accept="text/html")
@example(path="/01/09506000134352/10/http:%2F%2Fx]%2F/21/SN1", accept="application/json")
def test_any_digital_link_is_resolved_to_a_verdict_page_or_a_4xx(
    unlimited: TestClient, path: str, accept: str
) -> None:
    with tolerated():
        assert_handled(_get(unlimited, path, _headers(Accept=accept)))
