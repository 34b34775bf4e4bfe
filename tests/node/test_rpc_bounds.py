"""JSON-RPC bounds on what a request may make the node do: batch size and answer size,
parameters that size work, and the gas and wall-time budgets of eth_call and
eth_estimateGas. A hostile parameter never makes an internal error (-32603)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medledger.node import rpc as rpc_module
from medledger.node.app import Node
from medledger.node.client import RpcClient
from medledger.node.config import NodeConfig
from medledger.node.errors import INTERNAL_ERROR, RpcError

LOOP = "0x5b600056"  # JUMPDEST, PUSH1 0, JUMP: init code that loops until out of gas


@pytest.fixture
def node(inprocess: Callable[..., Node], node_config: NodeConfig) -> Node:
    return inprocess(replace(node_config, call_time_budget_ms=500))


def _handle(node: Node, request: Any) -> Any:
    answer = node.rpc.handle(json.dumps(request).encode())
    return None if answer is None else json.loads(answer)


def _call(method: str, *params: Any, rid: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": list(params)}


def test_fee_history_refuses_more_than_100_percentiles(node: Node) -> None:
    error = _handle(node, _call("eth_feeHistory", "0x4", "latest", list(range(101))))["error"]
    assert error["code"] == -32602
    assert error["data"] == {"reason": "param_too_large", "limit": 100}
    assert "100 percentiles" in error["message"]
    ok = _handle(node, _call("eth_feeHistory", "0x4", "latest", [10, 50, 90]))["result"]
    assert len(ok["reward"][0]) == 3


def test_300000_percentiles_are_refused_before_they_are_parsed(node: Node) -> None:
    error = _handle(node, _call("eth_feeHistory", "0x1", "latest", [50] * 300_000))["error"]
    assert error["code"] == -32700
    assert error["data"] == {"reason": "too_many_items"}


def test_a_batch_of_more_than_1000_requests_is_refused(node: Node) -> None:
    answer = _handle(node, [_call("eth_chainId", rid=i) for i in range(1_001)])
    assert answer["error"]["data"] == {"reason": "batch_too_large", "limit": 1_000}


def test_a_batch_stops_executing_once_its_answers_pass_the_byte_bound(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rpc_module, "MAX_ANSWER_BYTES", 2_000)
    answers = _handle(node, [_call("eth_getBlockByNumber", "0x0", False, rid=i) for i in range(20)])
    assert [a["id"] for a in answers] == list(range(20))
    served = [a for a in answers if "result" in a]
    refused = [a for a in answers if "error" in a]
    assert 1 <= len(served) < 20
    assert answers[: len(served)] == served  # the first ones, in order
    assert {a["error"]["data"]["reason"] for a in refused} == {"answer_too_large"}


def test_a_looping_call_is_refused_at_its_time_budget_naming_it(
    inprocess: Callable[..., Node], node_config: NodeConfig
) -> None:
    node = inprocess(replace(node_config, max_tx_gas=10**9, call_time_budget_ms=300))
    for method in ("eth_call", "eth_estimateGas"):
        started = time.monotonic()
        error = _handle(node, _call(method, {"data": LOOP}, "latest"))["error"]
        assert time.monotonic() - started < 1.5
        assert error["code"] == -32005
        assert error["data"] == {"reason": "call_time", "limit": 300}
        assert "300 ms" in error["message"]


def test_a_call_runs_with_at_most_the_transaction_gas_cap(
    inprocess: Callable[..., Node], node_config: NodeConfig
) -> None:
    node = inprocess(replace(node_config, max_tx_gas=3_000_000, call_time_budget_ms=30_000))
    error = _handle(node, _call("eth_call", {"data": LOOP, "gas": hex(10**12)}, "latest"))["error"]
    assert error["code"] == 3
    assert f"out of the {node.config.max_tx_gas} gas a call may use" in error["message"]


@pytest.mark.parametrize("precompile", [0x8, 0x9, 0xF])
def test_a_slow_precompile_is_not_started_when_it_could_outlast_the_budget(
    node: Node, precompile: int
) -> None:
    to = "0x" + precompile.to_bytes(20, "big").hex()
    started = time.monotonic()
    error = _handle(node, _call("eth_call", {"to": to, "data": "0x" + "00" * 384}, "latest"))
    assert time.monotonic() - started < 0.5
    assert error["error"]["data"]["reason"] == "call_time"


def test_the_fast_precompiles_still_answer_calls(node: Node) -> None:
    identity = "0x" + (4).to_bytes(20, "big").hex()
    answer = _handle(node, _call("eth_call", {"to": identity, "data": "0xabcd"}, "latest"))
    assert answer["result"] == "0xabcd"


def test_calls_past_the_concurrency_limit_wait_and_are_refused_as_busy(
    inprocess: Callable[..., Node], node_config: NodeConfig
) -> None:
    import threading

    node = inprocess(
        replace(node_config, max_tx_gas=10**9, call_time_budget_ms=600, max_concurrent_calls=1)
    )
    answers: list[Any] = []
    looping = threading.Thread(
        target=lambda: answers.append(_handle(node, _call("eth_call", {"data": LOOP}, "latest")))
    )
    looping.start()
    time.sleep(0.05)
    second = _handle(node, _call("eth_call", {"data": LOOP}, "latest"))["error"]["data"]
    looping.join()
    # the second waited for the slot up to its budget; whichever way it went, it was bounded
    assert second["reason"] in ("busy", "call_time")
    assert answers[0]["error"]["data"]["reason"] == "call_time"


QUANTITIES = st.one_of(
    st.integers(min_value=-(2**300), max_value=2**300),
    st.text(max_size=80).map(lambda t: "0x" + t),
    st.from_regex(r"0x[0-9a-f]{0,130}", fullmatch=True),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | QUANTITIES | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
CALL_OBJECTS = st.fixed_dictionaries(
    {},
    optional={
        "from": JSON, "to": JSON, "data": JSON, "input": JSON, "value": JSON, "gas": JSON,
    },
)  # fmt: skip


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(sorted(rpc_module.Rpc.__dict__)).filter(
        lambda name: name.startswith(("eth_", "net_", "web3_", "debug_", "medledger_"))
    ),
    params=st.lists(JSON | CALL_OBJECTS, max_size=4),
)
def test_hostile_parameters_never_make_an_internal_error(
    node: Node, method: str, params: list[Any]
) -> None:
    answer = _handle(node, {"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    assert answer.get("error", {}).get("code") != INTERNAL_ERROR, answer


def test_malformed_raw_transactions_are_invalid_params_with_a_reason(node: Node) -> None:
    client = RpcClient(node.url)
    cases = {"0x7fc0": "tx_type", "0x03c0": "tx_type", "0x04c0": "tx_type"}
    for raw, reason in cases.items():
        with pytest.raises(RpcError) as info:
            client.call("eth_sendRawTransaction", raw)
        assert info.value.code == -32602
        assert info.value.data == {"reason": reason}
        assert f"transaction type 0x{raw[2:4]}" in info.value.message
    list_for_nonce = (  # a legacy transaction whose nonce is a list: a TypeError in rlp
        "0xf869c380c1018083015f9094ced72ef9731fe93a6b9e92873007193bb9bb489780848da5cb5b820a95a0"
        "d6b3d609e746028769d63d732219731d436eb72248e2d773fc7f901e40273020a0411ed38173ec9aa320d1b9"
        "b9b61e05b54da3a35b97504d0d1d2bc8955b9d523b"
    )
    for raw in ("0x", "0x80", "0xc0", "0x02c0", "0x0102", list_for_nonce):
        with pytest.raises(RpcError) as info:
            client.call("eth_sendRawTransaction", raw)
        assert info.value.code == -32602, raw
        assert "invalid transaction" in info.value.message
    with pytest.raises(RpcError) as info:
        client.call("eth_sendRawTransaction", "0x02" + "00" * (node.config.max_tx_bytes + 1))
    assert info.value.data == {"reason": "tx_size", "limit": node.config.max_tx_bytes}
    client.close()
