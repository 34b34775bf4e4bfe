"""The request guard (`api.http_guard`): paths, body sizes, JSON depth, body deadlines and
credentials checked before a body is read, on the real app.

Refusals that must come before the body are driven at the ASGI level with a `receive`
that records each call, so "no byte of the body was read" is observed, not assumed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from medledger.portal.app import _StaticFiles
from medledger.web.http_guard import MAX_JSON_DEPTH
from medledger.web.members import current_member
from tests.api import partner_env
from tests.api.conftest import ApiEnv
from tests.api.partner_env import PartnerEnv
from tests.api.regulator_mode import regulator_client

partner = partner_env.partner

BOMB = b"[" * 100_000 + b"]" * 100_000
UPLOAD = "/v1/partner/documents/upload"


class Exchange:
    """One request driven straight through the ASGI app."""

    def __init__(self, chunks: list[bytes], *, stall: bool = False) -> None:
        self.chunks = chunks
        self.stall = stall  # after the chunks, send nothing more
        self.receive_calls = 0
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""

    async def receive(self) -> dict[str, Any]:
        self.receive_calls += 1
        if not self.chunks:
            await asyncio.sleep(3600)  # a client that never sends the rest
        chunk = self.chunks.pop(0)
        more = bool(self.chunks) or self.stall
        return {"type": "http.request", "body": chunk, "more_body": more}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            self.body += message.get("body", b"")

    @property
    def code(self) -> str:
        return str(json.loads(self.body)["code"])


def drive(
    app: FastAPI,
    method: str,
    path: str,
    headers: dict[str, str],
    chunks: list[bytes],
    *,
    stall: bool = False,
) -> Exchange:
    exchange = Exchange(chunks, stall=stall)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
        "state": {},
    }
    asyncio.run(asyncio.wait_for(app(scope, exchange.receive, exchange.send), 30))
    return exchange


def upload_headers(**extra: str) -> dict[str, str]:
    return {
        "content-type": "multipart/form-data; boundary=xyz",
        "content-length": str(300 * 1024 * 1024),
        **extra,
    }


@pytest.fixture
def app(api: ApiEnv) -> Iterator[FastAPI]:
    app = api.client.app
    assert isinstance(app, FastAPI)
    yield app


def test_a_bracket_bomb_to_verify_is_a_400_json_too_deep(api: ApiEnv) -> None:
    response = api.client.post(
        "/v1/verify", content=BOMB, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "json_too_deep"
    assert api.client.get("/healthz").status_code == 200


def test_nesting_at_the_depth_limit_still_reaches_the_route(api: ApiEnv) -> None:
    body = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    response = api.client.post(
        "/v1/verify", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422  # the route's own schema refusal
    assert response.json()["code"] == "invalid_request"


def test_a_bomb_without_a_content_type_is_refused_too(api: ApiEnv) -> None:
    response = api.client.post("/v1/verify", content=BOMB, headers={"content-type": ""})
    assert response.status_code == 400
    assert response.json()["code"] == "json_too_deep"


def test_a_json_body_above_the_default_limit_is_a_413_by_content_length(app: FastAPI) -> None:
    body = b'{"code": "' + b"x" * 300_000 + b'"}'
    exchange = drive(
        app,
        "POST",
        "/v1/verify",
        {"content-type": "application/json", "content-length": str(len(body))},
        [body],
    )
    assert exchange.status == 413
    assert exchange.code == "body_too_large"
    assert exchange.receive_calls == 0
    assert exchange.headers["connection"] == "close"


def test_a_chunked_body_is_cut_at_the_limit_as_it_streams(app: FastAPI) -> None:
    chunks = [b'{"code": "'] + [b"x" * 65536] * 100
    exchange = drive(
        app,
        "POST",
        "/v1/verify",
        {"content-type": "application/json", "transfer-encoding": "chunked"},
        chunks,
    )
    assert exchange.status == 413
    assert exchange.code == "body_too_large"
    assert exchange.receive_calls <= 6  # 256 KiB: five chunks, not a hundred


def test_an_upload_without_credentials_is_a_401_before_its_body_is_read(app: FastAPI) -> None:
    exchange = drive(app, "POST", UPLOAD, upload_headers(), [b"--xyz\r\n"] * 3)
    assert exchange.status == 401
    assert exchange.code == "authentication_required"
    assert exchange.receive_calls == 0
    assert exchange.headers["connection"] == "close"


def test_an_upload_with_a_forged_token_or_key_is_a_401_before_its_body_is_read(
    partner: PartnerEnv,
) -> None:
    app = partner.api.client.app
    forged = upload_headers(authorization="Bearer mlt1.eyJzdWIiOiIweDAwIn0.AAAA")
    exchange = drive(app, "POST", UPLOAD, forged, [b"--xyz\r\n"])
    assert (exchange.status, exchange.code, exchange.receive_calls) == (401, "invalid_token", 0)
    unknown_key = upload_headers(**{"x-api-key": "mlk_0011223344556677_guess"})
    exchange = drive(app, "POST", UPLOAD, unknown_key, [b"--xyz\r\n"])
    assert (exchange.status, exchange.code, exchange.receive_calls) == (401, "invalid_api_key", 0)


def test_a_signed_in_member_gets_a_413_for_an_upload_above_the_document_limit(
    partner: PartnerEnv,
) -> None:
    headers = upload_headers(**partner.login(partner.api.consortium.manufacturer))
    exchange = drive(partner.api.client.app, "POST", UPLOAD, headers, [b"--xyz\r\n"])
    assert (exchange.status, exchange.code, exchange.receive_calls) == (413, "body_too_large", 0)


def test_a_signed_in_member_still_uploads_a_document(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    response = partner.api.client.post(
        UPLOAD,
        headers=partner.login(c.manufacturer),
        files={"file": ("note.txt", b"hello", "text/plain")},
        data={"subject_id": "0x" + "11" * 32, "kind": "1"},
    )
    assert response.status_code == 201, response.text


def test_a_portal_post_without_a_session_is_sent_to_sign_in_before_its_body_is_read(
    app: FastAPI,
) -> None:
    headers = upload_headers()
    exchange = drive(app, "POST", "/portal/shipments/outbound", headers, [b"--xyz\r\n"])
    assert exchange.status == 303
    assert exchange.headers["location"] == "/portal/sign-in?next=/portal/shipments/outbound"
    assert exchange.receive_calls == 0


def test_a_body_that_stops_arriving_is_a_408(api: ApiEnv) -> None:
    settings = api.services.settings
    api.services.settings = settings.model_copy(update={"body_timeout_seconds": 0.2})
    exchange = drive(
        api.client.app,
        "POST",
        "/v1/verify",
        {"content-type": "application/json", "content-length": "100"},
        [b'{"code": '],
        stall=True,
    )
    assert exchange.status == 408
    assert exchange.code == "body_timeout"
    assert exchange.headers["connection"] == "close"


@pytest.mark.parametrize("path", ["/portal/static/portal%00.css", "/v1/verify\x00", "/a\x1fb"])
def test_a_control_character_in_the_path_is_a_400_invalid_path(app: FastAPI, path: str) -> None:
    from urllib.parse import unquote

    exchange = drive(app, "GET", unquote(path), {}, [])
    assert exchange.status == 400
    assert exchange.code == "invalid_path"


def test_the_static_files_answer_not_found_for_a_path_the_file_system_refuses() -> None:
    from pathlib import Path

    static = _StaticFiles(directory=Path(__file__).parent)
    assert static.lookup_path("x\x00.css") == ("", None)


def test_a_regulator_order_without_the_staff_token_is_a_401_before_its_body_is_read(
    api: ApiEnv,
) -> None:
    app = regulator_client(api).app
    assert isinstance(app, FastAPI)
    headers = {"content-type": "application/json", "content-length": "20"}
    exchange = drive(app, "POST", "/v1/regulator/licences", headers, [b"{}"])
    assert (exchange.status, exchange.code, exchange.receive_calls) == (
        401,
        "authentication_required",
        0,
    )
    wrong = {**headers, "authorization": "Bearer not-the-token"}
    exchange = drive(app, "POST", "/v1/regulator/licences", wrong, [b"{}"])
    assert (exchange.status, exchange.code, exchange.receive_calls) == (401, "invalid_token", 0)


def test_a_credential_check_that_fails_unexpectedly_is_a_500_not_a_400(app: FastAPI) -> None:
    def broken(_: object) -> None:
        raise RuntimeError("the API database is gone")

    app.state.http_guard.gates[current_member] = broken
    exchange = drive(app, "POST", UPLOAD, upload_headers(), [b"--xyz\r\n"])
    assert (exchange.status, exchange.code, exchange.receive_calls) == (500, "internal_error", 0)
    assert b"database" not in exchange.body


@pytest.mark.parametrize("declared", ["-1", "1e3", "99999999999999999999999"])
def test_a_content_length_that_is_not_a_size_is_a_400(app: FastAPI, declared: str) -> None:
    exchange = drive(app, "POST", "/v1/verify", {"content-length": declared}, [b"{}"])
    assert (exchange.status, exchange.code, exchange.receive_calls) == (
        400,
        "invalid_content_length",
        0,
    )
