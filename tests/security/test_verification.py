"""Attack replays on public verification and on what the regulator sees (issue 13,
findings 4, 9 and 12), against the real stack `medledger up` starts.

- 4: an anonymous `country=US` scan of a guessed serial no longer turns the unit suspect
  for the hospital scanning it next; a member's scan (its API key) still counts.
- 9: a public scan and a recall acknowledgement made on the partner API reach the
  regulator's API, which runs with its own databases and pulls the partner's oversight
  feed as the regulator member.
- 12: the API's access log holds no client address next to a scanned code.

The units used are the demo's stents at Xihu hospital (S00005..S00008 of the sample's
lot), which no other module of the suite scans.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx

from tests.security.conftest import Target

DEADLINE = 30.0  # seconds for the regulator's pull (every 2 s) to bring a row over


def _code(target: Target, serial: str) -> str:
    """A Digital Link of one of the sample lot's units, as its label's QR code holds it."""
    path = re.sub(r"/21/[^/?]+", f"/21/{serial}", target.seed.sample_path)
    return target.api + path


def _get(url: str, *, params: Any = None, headers: Any = None) -> httpx.Response:
    """GET, waiting out the per-address verification budget the suite's modules share."""
    deadline = time.monotonic() + 90
    while True:
        response = httpx.get(url, params=params, headers=headers, timeout=30)
        if response.status_code != 429 or time.monotonic() > deadline:
            return response
        time.sleep(min(float(response.headers.get("retry-after", "1")), 5.0))


def _verify(target: Target, code: str, headers: Any = None, **place: Any) -> dict[str, Any]:
    response = _get(target.api + "/v1/verify", params={"code": code, **place}, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _reasons(result: dict[str, Any]) -> set[str]:
    return {r["code"] for r in result["reasons"]}


def _sign_in(target: Target, slug: str) -> dict[str, str]:
    return target.bearer(slug)


def _scanner_key(target: Target, slug: str) -> dict[str, str]:
    """A member's scanner: an API key of its own, as a hospital's ward scanner has."""
    created = httpx.post(
        target.api + "/v1/auth/api-keys",
        json={"label": "ward scanner"},
        headers=_sign_in(target, slug),
        timeout=30,
    )
    assert created.status_code == 201, created.text
    return {"X-API-Key": created.json()["key"]}


def _regulator(target: Target, path: str, **params: Any) -> dict[str, Any]:
    token = target.stack.secrets.regulator_api_token
    response = httpx.get(
        target.regulator_api + path,
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_anonymous_distant_scan_does_not_poison_the_next_genuine_scan(target: Target) -> None:
    code = _code(target, "S00005")
    assert _verify(target, code, country="US")["verdict"] == "genuine"
    at_hospital = _verify(target, code, _scanner_key(target, "xihu"), country="CN", region="33")
    assert at_hospital["verdict"] == "genuine", at_hospital["reasons"]
    assert "two_places" not in _reasons(at_hospital)
    by_phone = _verify(target, code, country="CN", region="33")  # a patient, in Hangzhou too
    assert by_phone["verdict"] == "genuine", by_phone["reasons"]
    target.assert_still_serving()


def test_a_members_distant_scan_still_makes_the_next_scan_suspect(target: Target) -> None:
    code = _code(target, "S00006")
    xihu = _scanner_key(target, "xihu")
    assert _verify(target, code, xihu, country="CN", region="33")["verdict"] == "genuine"
    abroad = _verify(target, code, country="US")
    assert abroad["verdict"] == "suspect" and "two_places" in _reasons(abroad)
    text = next(r["text"] for r in abroad["reasons"] if r["code"] == "two_places")
    assert "CN-33" in text and "anonymous scan never changes" in text
    elsewhere = _verify(target, code, _scanner_key(target, "jiahe"), country="CN", region="11")
    assert elsewhere["verdict"] == "suspect"
    target.assert_still_serving()


def test_scans_and_acknowledgements_on_the_partner_side_reach_the_regulator(
    target: Target,
) -> None:
    since = int(time.time()) - 5
    scanned = _verify(target, _code(target, "S00007"), country="DE")
    unit = scanned["code"]["item_id"]
    acked = httpx.post(
        target.api + "/v1/partner/recalls/1/acknowledgement",
        json={"note": "three units quarantined"},
        headers=_sign_in(target, "kangze"),
        timeout=30,
    )
    assert acked.status_code == 200, acked.text
    kangze = target.organisation("kangze")["address"]

    deadline = time.monotonic() + DEADLINE
    seen: list[dict[str, Any]] = []
    ack: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        seen = [
            s
            for s in _regulator(target, "/v1/regulator/scans", since=since, limit=200)["scans"]
            if s["item_id"] == unit
        ]
        holders = _regulator(target, "/v1/regulator/recalls/1/acknowledgements")["holders"]
        ack = next(h["acknowledgement"] for h in holders if h["holder"] == kangze)
        if seen and ack is not None:
            break
        time.sleep(0.5)
    assert [(s["location"], s["by_member"], s["scanner"]) for s in seen] == [("DE", False, None)]
    assert ack is not None and ack["recall_id"] == 1
    target.assert_still_serving()


def _access_lines(target: Target, name: str) -> list[str]:
    lines = []
    for raw in (target.data_dir / "logs" / f"{name}.log").read_text().splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("logger") == "uvicorn.access":
            lines.append(str(entry.get("msg", "")))
    return lines


def test_the_access_log_keeps_no_client_address_next_to_a_scanned_code(target: Target) -> None:
    code = _code(target, "S00008")
    path = code[len(target.api) :]
    page = _get(code + "?17=281231", headers={"Accept": "application/json"})
    assert page.status_code in (200, 400), page.text
    _verify(target, code, lat="30.2741", lon="120.1551")
    deadline = time.monotonic() + 10
    lines: list[str] = []
    while time.monotonic() < deadline:
        lines = _access_lines(target, "api")
        if any(path in line for line in lines):
            break
        time.sleep(0.2)
    mine = [line for line in lines if path in line]
    assert mine, "the resolver request is not in the access log"
    for name in ("api", "regulator-api"):
        for line in _access_lines(target, name):
            assert "127.0.0.1" not in line, line
            assert "lat=" not in line and "?17=" not in line, line
    target.assert_still_serving()
