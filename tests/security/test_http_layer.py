"""Attack replays on the API's shared HTTP layer (issue 13, findings 1, 3, 5, 13 and 14),
over real sockets against the partner and regulator APIs `medledger up` starts.

- 1: a 200 KB bracket bomb to /v1/verify is a 400 `json_too_deep`, six times over, on both
  APIs, and both live on (it was a SIGSEGV); the same with a member's token on a route.
- 5: a 300 MB upload without credentials is a 401 before any byte of its body is sent,
  the connection is closed and nothing lands on disk; a portal form without a session is
  sent to sign in the same way; a too-large JSON body is a 413, declared or chunked.
- 3: a connection that sends no request, or drips its head, is closed after the idle
  timeout; a body that stops arriving is a 408.
- 13: `?offset=99999999999999999999` is a 422 `offset_out_of_range`; a NUL in a static
  path is a 400.
- 14: every answer carries CSP (frame-ancestors 'none'), X-Frame-Options, nosniff and
  Referrer-Policy, HSTS when the request came over https; an action page cannot be framed.
"""

from __future__ import annotations

import re
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.security.conftest import Target

BOMB = b"[" * 100_000 + b"]" * 100_000
JSON = {"content-type": "application/json"}
MB = 1024 * 1024


# ------------------------------------------------------------------ raw HTTP


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return socket.create_connection((parts.hostname, parts.port), timeout=30)


def _head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: attack",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answered(conn: socket.socket) -> bool:
    return bool(select.select([conn], [], [], 0)[0])


def _response(conn: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of the answer on `conn`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, f"connection closed before an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = conn.recv(65536)
        assert chunk, "connection closed inside the answer"
        body += chunk
    return int(status_line.split()[1]), headers, body


def _code(body: bytes) -> str:
    return str(httpx.Response(200, content=body).json()["code"])


def _closed_within(conn: socket.socket, seconds: float) -> float:
    """Seconds until the server closed `conn`; fails the test past `seconds`."""
    started = time.monotonic()
    conn.settimeout(seconds)
    try:
        while conn.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def _sent_until_refused(conn: socket.socket, pieces: Iterator[bytes], *, cap: int) -> int:
    """Bytes of `pieces` the server let us send before it closed the connection (at most
    `cap`, or until it stopped reading)."""
    sent = 0
    conn.settimeout(5)
    try:
        for piece in pieces:
            conn.sendall(piece)
            sent += len(piece)
            if sent >= cap:
                break
    except OSError:  # EPIPE / ECONNRESET once closed; a timeout if it just stopped reading
        pass
    return sent


def _zeros(total: int, *, chunk: int = MB) -> Iterator[bytes]:
    """`total` bytes, streamed: the test never holds more than one chunk."""
    for start in range(0, total, chunk):
        yield bytes(min(chunk, total - start))


def _tree_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


# ------------------------------------------------------------------ sign-ins


@pytest.fixture(scope="module")
def member(target: Target) -> dict[str, str]:
    """A distributor's bearer token, through the API's challenge and token exchange."""
    return target.bearer("ruitong")


@pytest.fixture(scope="module")
def portal(target: Target) -> Iterator[httpx.Client]:
    """A manufacturer signed in to the portal with its password."""
    with httpx.Client(base_url=target.api, timeout=30) as client:
        form = client.get("/portal/sign-in")
        found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert found is not None, form.text
        signed_in = client.post(
            "/portal/sign-in",
            data={
                "csrf_token": found.group(1),
                "username": "chengrui",
                "password": target.passwords()["chengrui"],
            },
        )
        assert signed_in.status_code == 303, signed_in.text
        yield client


# ------------------------------------------------------------------ finding 1


def test_a_bracket_bomb_is_a_400_on_both_apis_which_live_on(target: Target) -> None:
    for api in (target.api, target.regulator_api):
        for _ in range(6):  # six crashes used to make `medledger up` give up
            answer = httpx.post(api + "/v1/verify", content=BOMB, headers=JSON, timeout=30)
            assert answer.status_code == 400, answer.text
            assert answer.json()["code"] == "json_too_deep"
    target.assert_still_serving()


def test_a_bracket_bomb_from_a_member_is_a_400_too(target: Target, member: dict[str, str]) -> None:
    answer = httpx.post(
        target.api + "/v1/partner/shipments", content=BOMB, headers={**JSON, **member}, timeout=30
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "json_too_deep"
    target.assert_still_serving()


# ------------------------------------------------------------------ finding 5


def test_a_300_mb_upload_without_credentials_is_a_401_before_its_body(target: Target) -> None:
    api_dir = target.data_dir / "api"
    before = _tree_bytes(api_dir)
    total = 300 * MB
    headers = {
        "Content-Type": "multipart/form-data; boundary=attack",
        "Content-Length": str(total),
    }
    with _connect(target.api) as conn:
        conn.sendall(_head("POST", "/v1/partner/documents/upload", headers))
        status, answer_headers, body = _response(conn)  # not one byte of the body sent
        assert status == 401
        assert _code(body) == "authentication_required"
        assert answer_headers["connection"] == "close"
        sent = _sent_until_refused(conn, _zeros(total), cap=64 * MB)
    assert sent < 64 * MB, "the server kept taking the body"
    assert _tree_bytes(api_dir) - before < MB
    target.assert_still_serving()


def test_a_portal_form_without_a_session_is_sent_to_sign_in_before_its_body(
    target: Target,
) -> None:
    headers = {
        "Content-Type": "multipart/form-data; boundary=attack",
        "Content-Length": str(300 * MB),
    }
    with _connect(target.api) as conn:
        conn.sendall(_head("POST", "/portal/shipments/outbound", headers))
        status, answer_headers, _ = _response(conn)
    assert status == 303
    assert answer_headers["location"].startswith("/portal/sign-in?next=")
    target.assert_still_serving()


def test_a_json_body_above_the_limit_is_a_413_declared_or_chunked(target: Target) -> None:
    with _connect(target.api) as conn:
        conn.sendall(_head("POST", "/v1/verify", {**JSON, "Content-Length": str(MB)}))
        status, _, body = _response(conn)
    assert (status, _code(body)) == (413, "body_too_large")
    with _connect(target.api) as conn:
        conn.sendall(_head("POST", "/v1/verify", {**JSON, "Transfer-Encoding": "chunked"}))
        piece = b"8000\r\n" + b" " * 0x8000 + b"\r\n"  # 32 KiB chunks
        for _ in range(40):  # up to 1.25 MiB; the limit is 256 KiB
            if _answered(conn):
                break
            conn.sendall(piece)
            time.sleep(0.01)
        status, _, body = _response(conn)
    assert (status, _code(body)) == (413, "body_too_large")
    target.assert_still_serving()


# ------------------------------------------------------------------ finding 3 (listener)


def test_silent_and_slow_request_heads_are_closed_after_the_idle_timeout(
    target: Target,
) -> None:
    silent = _connect(target.api)
    slow = _connect(target.api)
    try:
        started = time.monotonic()
        head = _head("GET", "/healthz", {"X-Slow": "a" * 200})
        for byte in head:  # a byte every 0.2 s: the head would take 50 s
            if _answered(slow):
                break
            slow.sendall(bytes([byte]))
            time.sleep(0.2)
        _closed_within(slow, 10)
        assert time.monotonic() - started < 15  # idle timeout 5 s
        assert _closed_within(silent, 10) < 10
    finally:
        silent.close()
        slow.close()
    target.assert_still_serving()


def test_a_body_that_stops_arriving_is_a_408(target: Target) -> None:
    with _connect(target.api) as conn:
        conn.sendall(_head("POST", "/v1/verify", {**JSON, "Content-Length": "1000"}))
        conn.sendall(b'{"code": "')
        started = time.monotonic()
        status, headers, body = _response(conn)
        waited = time.monotonic() - started
    assert (status, _code(body)) == (408, "body_timeout")
    assert headers["connection"] == "close"
    assert waited < 20  # body timeout 10 s
    target.assert_still_serving()


# ------------------------------------------------------------------ finding 13


@pytest.mark.parametrize("route", ["/v1/partner/shipments", "/v1/partner/documents"])
def test_an_offset_past_64_bits_is_a_422(
    target: Target, member: dict[str, str], route: str
) -> None:
    answer = httpx.get(
        target.api + route,
        params={"offset": "99999999999999999999"},
        headers=member,
        timeout=30,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "offset_out_of_range"
    target.assert_still_serving()


@pytest.mark.parametrize(
    "path", ["/portal/static/portal%00.css", "/portal/static/vendor/htmx/%00", "/v1/verify%00"]
)
def test_a_nul_in_a_path_is_a_400(target: Target, path: str) -> None:
    answer = httpx.get(target.api + path, timeout=30)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "invalid_path"
    target.assert_still_serving()


# ------------------------------------------------------------------ finding 14


def _assert_protected(answer: httpx.Response) -> None:
    policy = answer.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, answer.request.url
    assert "script-src 'self';" in policy
    assert answer.headers.get("x-frame-options") == "DENY"
    assert answer.headers.get("x-content-type-options") == "nosniff"
    assert answer.headers.get("referrer-policy") == "no-referrer"


def test_every_answer_of_both_apis_carries_the_security_headers(target: Target) -> None:
    for api in (target.api, target.regulator_api):
        for path in ("/healthz", "/portal/sign-in", "/portal/verify", "/v1/nowhere"):
            answer = httpx.get(api + path, timeout=30)
            _assert_protected(answer)
            assert "strict-transport-security" not in answer.headers
    # No proxy is trusted by default (MEDLEDGER_API_FORWARDED_ALLOW_IPS): a client that
    # claims to have come over TLS is not believed (HSTS over real https is tested in
    # tests/api/test_security_headers.py).
    spoofed = httpx.get(
        target.api + "/portal/sign-in", headers={"X-Forwarded-Proto": "https"}, timeout=30
    )
    _assert_protected(spoofed)
    assert "strict-transport-security" not in spoofed.headers
    target.assert_still_serving()


def test_an_action_page_refuses_to_be_framed(target: Target, portal: httpx.Client) -> None:
    page = portal.get("/portal/manufacturer")
    assert page.status_code == 200, page.text
    assert "<form" in page.text
    _assert_protected(page)
    target.assert_still_serving()
