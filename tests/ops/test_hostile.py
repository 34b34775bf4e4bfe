"""How the soak's hostile traffic (ops.hostile) counts answers: a JSON-RPC internal error
is a 5xx whatever the HTTP status, a 503 that names the ledger or a full server is load
(the soak's SIGKILLs), not a failure on the input."""

from __future__ import annotations

import json

import httpx
import pytest

from medledger.ops.hostile import HostileStats, _class, _rpc_class


def _answer(body: object, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode())


RESULT = {"jsonrpc": "2.0", "id": 1, "result": "0x1"}
REFUSED = {"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "bad"}}
INTERNAL = {"jsonrpc": "2.0", "id": 2, "error": {"code": -32603, "message": "boom"}}


@pytest.mark.parametrize(
    ("body", "klass"),
    [
        (RESULT, "2xx"),
        (REFUSED, "4xx"),
        (INTERNAL, "5xx"),
        ([RESULT, REFUSED], "4xx"),
        ([RESULT, INTERNAL], "5xx"),
    ],  # fmt: skip
)
def test_a_json_rpc_answer_is_classed_by_its_errors(body: object, klass: str) -> None:
    assert _rpc_class(_answer(body))[0] == klass


def test_an_rpc_answer_that_is_not_json_is_a_server_error() -> None:
    assert _rpc_class(httpx.Response(200, content=b"<html>"))[0] == "5xx"


def test_a_503_for_a_node_that_is_down_is_load_not_a_failure_on_the_input() -> None:
    assert _class(503, '{"code":"chain_unavailable"}') == "unavailable"
    assert _class(503, '{"error":{"data":{"reason":"busy"}}}') == "unavailable"
    assert _class(503, '{"code":"not_configured"}') == "5xx"
    assert _rpc_class(_answer({"code": "chain_unavailable"}, 503))[0] == "unavailable"


def test_the_figures_count_requests_by_class_and_payload() -> None:
    stats = HostileStats()
    stats.count("bracket_bomb", "api", "4xx")
    stats.count("bracket_bomb", "rpc", "5xx", "internal error")
    stats.count("half_open", "api", "held")
    figures = stats.figures()
    assert figures["hostile_requests"] == 3
    assert (figures["hostile_5xx"], figures["hostile_held"]) == (1, 1)
    assert figures["hostile_by_payload"] == {"bracket_bomb": {"4xx": 1, "5xx": 1},
                                             "half_open": {"held": 1}}  # fmt: skip
    assert stats.server_errors == ["bracket_bomb -> rpc: internal error"]
