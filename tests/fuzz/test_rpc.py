"""Fuzz target: the node's JSON-RPC, on a sequencer in this process. `Rpc.handle` and the
HTTP server take every method's valid calls, alone and in batches, damaged as JSON and as
bytes, and raw bytes; `eth_sendRawTransaction` takes signed transactions of every type,
damaged in their bytes, their RLP fields and their type byte. Every answer is valid
JSON-RPC 2.0; bad input is an error that names its reason, never the internal error
-32603; a transaction is accepted (its hash) or refused with a message."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import rlp
from eth_account import Account
from hypothesis import example, given
from hypothesis import strategies as st

from medledger.node.app import Node
from medledger.node.config import NodeConfig, demo_genesis
from medledger.node.errors import INTERNAL_ERROR
from tests.fuzz.budget import fuzz
from tests.fuzz.known import tolerated
from tests.fuzz.mutate import HOSTILE_NUMBERS, dumps, json_body, mutated_bytes, mutated_json

STRANGER = Account.from_key("0x" + "5a" * 32)


@pytest.fixture(scope="module")
def config() -> NodeConfig:
    return demo_genesis()


@pytest.fixture(scope="module")
def sequencer(tmp_path_factory: pytest.TempPathFactory, config: NodeConfig) -> Iterator[Node]:
    """A sequencer in this process: its `Rpc` (`node.rpc`) and its HTTP server."""
    data_dir: Path = tmp_path_factory.mktemp("fuzz-node")
    node = Node(dataclasses.replace(config, data_dir=data_dir, rpc_port=0))
    node.start()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def http(sequencer: Node) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sequencer.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def transactions(config: NodeConfig) -> list[bytes]:
    return signed_transactions(config)


@pytest.fixture(scope="module")
def calls(config: NodeConfig) -> list[dict[str, Any]]:
    return requests(config)


def signed_transactions(config: NodeConfig) -> list[bytes]:
    """A member's and a stranger's transactions of types 0, 1 and 2: a call, a transfer
    and a contract creation."""
    assert config.demo_admin_key is not None
    admin = Account.from_key(config.demo_admin_key)
    partners = config.contract_address("Partners")
    out = []
    for account in (admin, STRANGER):
        for extra in (
            {"gasPrice": 0},
            {"gasPrice": 0, "accessList": [], "type": 1},
            {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0},
        ):
            for to, data in ((partners, "0x8da5cb5b"), (account.address, "0x"), (None, "0x00")):
                fields = {"chainId": config.chain_id, "nonce": 0, "gas": 90_000,
                          "value": 0, "data": data, **extra}  # fmt: skip
                if to is not None:
                    fields["to"] = to
                out.append(bytes(account.sign_transaction(fields).raw_transaction))
    return out


def requests(config: NodeConfig) -> list[dict[str, Any]]:
    """One valid call of each method the node serves."""
    admin = Account.from_key(config.demo_admin_key or "").address
    partners = config.contract_address("Partners")
    zero = "0x" + "00" * 32
    call = {"from": admin, "to": partners, "data": "0x8da5cb5b", "gas": "0x186a0"}
    calls: list[tuple[str, list[Any]]] = [
        ("web3_clientVersion", []),
        ("net_version", []),
        ("net_listening", []),
        ("net_peerCount", []),
        ("eth_chainId", []),
        ("eth_syncing", []),
        ("eth_accounts", []),
        ("eth_blockNumber", []),
        ("eth_gasPrice", []),
        ("eth_maxPriorityFeePerGas", []),
        ("eth_blobBaseFee", []),
        ("eth_feeHistory", ["0x4", "latest", [25, 75]]),
        ("eth_getBlockByNumber", ["0x0", True]),
        ("eth_getBlockByNumber", ["latest", False]),
        ("eth_getBlockByHash", [zero, False]),
        ("eth_getBlockTransactionCountByNumber", ["latest"]),
        ("eth_getTransactionByHash", [zero]),
        ("eth_getTransactionReceipt", [zero]),
        ("eth_getTransactionCount", [admin, "pending"]),
        ("eth_getBalance", [admin, "latest"]),
        ("eth_getCode", [partners, {"blockNumber": "0x0"}]),
        ("eth_getStorageAt", [partners, "0x0", "latest"]),
        ("eth_call", [call, "latest"]),
        ("eth_estimateGas", [call]),
        (
            "eth_getLogs",
            [
                {
                    "fromBlock": "0x0",
                    "toBlock": "latest",
                    "address": partners,
                    "topics": [None, [zero]],
                }
            ],
        ),  # fmt: skip
        ("debug_getRawBlock", ["0x0"]),
        ("medledger_getSeal", ["latest"]),
        ("medledger_getTransactionStatus", [zero]),
        ("medledger_authorities", []),
        ("medledger_status", []),
    ]
    raw = signed_transactions(config)
    calls += [("eth_sendRawTransaction", ["0x" + tx.hex()]) for tx in raw[::4]]
    return [
        {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
        for i, (method, params) in enumerate(calls)
    ]


class InternalError(AssertionError):
    """The node answered bad input with -32603 (its message is the exception's)."""


def check_answer(answer: bytes | None) -> list[dict[str, Any]]:
    """The answer's JSON-RPC objects, each checked: id, then a result or a reasoned error
    that is not the internal error."""
    if answer is None:  # notifications only
        return []
    parsed = json.loads(answer)
    assert isinstance(parsed, dict | list), answer[:300]
    items = parsed if isinstance(parsed, list) else [parsed]
    assert items, answer[:300]
    for item in items:
        assert item["jsonrpc"] == "2.0" and "id" in item, item
        assert ("result" in item) != ("error" in item), item
        if "error" in item:
            error = item["error"]
            assert isinstance(error["code"], int) and isinstance(error["message"], str), item
            assert error["message"], item
            if error["code"] == INTERNAL_ERROR:
                raise InternalError(error["message"])
    return items


@st.composite
def bodies(draw: st.DrawFn, seeds: list[dict[str, Any]]) -> bytes:
    """One call or a batch of them, damaged as JSON or as bytes, or raw bytes."""
    if draw(st.booleans()):
        return draw(json_body(draw(st.sampled_from(seeds))))
    batch = draw(st.lists(st.sampled_from(seeds), min_size=1, max_size=6))
    return draw(st.one_of(mutated_json(batch).map(dumps), mutated_bytes(dumps(batch))))


@fuzz(600)
@given(data=st.data())
@example(data=None)
def test_any_body_gets_valid_json_rpc_answers_and_never_an_internal_error(
    sequencer: Node, calls: list[dict[str, Any]], data: st.DataObject | None
) -> None:
    if data is None:  # the @example: each method's valid call answers with a result
        answers = check_answer(sequencer.rpc.handle(dumps(calls)))
        for call, answer in zip(calls, answers, strict=True):
            assert "result" in answer or call["method"] == "eth_sendRawTransaction", answer
        return
    body = data.draw(bodies(calls), label="body")
    with tolerated():
        check_answer(sequencer.rpc.handle(body))


@st.composite
def raw_transactions(draw: st.DrawFn, seeds: list[bytes]) -> str:
    """A signed transaction, damaged: its bytes, one RLP field, or its type byte."""
    raw = draw(st.sampled_from(seeds))
    how = draw(st.integers(0, 4))
    if how == 0:
        raw = draw(mutated_bytes(raw))
    elif how == 1:
        typed = raw[0] < 0x80
        fields = rlp.decode(raw[1:] if typed else raw)
        at = draw(st.integers(0, len(fields) - 1))
        number = draw(st.sampled_from([n for n in HOSTILE_NUMBERS if isinstance(n, int)]))
        fields[at] = draw(
            st.one_of(
                st.just(abs(number).to_bytes((abs(number).bit_length() + 7) // 8, "big")),
                st.binary(max_size=40),
                st.just([]),
                st.just([b"", [b"\x01"]]),
            )
        )
        raw = (raw[:1] if typed else b"") + rlp.encode(fields)
    elif how == 2:
        raw = bytes([draw(st.integers(0, 255))]) + raw[1:]
    elif how == 3:
        raw = draw(st.sampled_from([b"\x7f", b"\x03", b"\x04", b"\x02", b"\xc0", b""])) + raw
    text = "0x" + raw.hex()
    return draw(st.sampled_from([text, text, text.upper(), text[:-1], text[2:], text + "zz"]))


# A legacy transaction whose nonce (an RLP integer) is the list [b"", [b"\x01"]].
LIST_FOR_NONCE = (
    "0xf869c380c1018083015f9094ced72ef9731fe93a6b9e92873007193bb9bb489780848da5cb5b820a95a0"
    "d6b3d609e746028769d63d732219731d436eb72248e2d773fc7f901e40273020a0411ed38173ec9aa320d1b9"
    "b9b61e05b54da3a35b97504d0d1d2bc8955b9d523b"
)


def _send(sequencer: Node, raw: str) -> dict[str, Any]:
    body = dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [raw]})
    (answer,) = check_answer(sequencer.rpc.handle(body))
    assert "error" in answer or len(answer["result"]) == 66, answer
    return answer


@fuzz(400)
@given(data=st.data())
@example(data="0x7f")
@example(data=LIST_FOR_NONCE)
def test_any_raw_transaction_is_accepted_or_refused_with_a_reason(
    sequencer: Node, transactions: list[bytes], data: st.DataObject | str
) -> None:
    if isinstance(data, str):  # an @example: a type byte, or a whole transaction
        raw = data if len(data) > 4 else data + transactions[0].hex()
    else:
        raw = data.draw(raw_transactions(transactions), label="raw")
    with tolerated():
        _send(sequencer, raw)


@fuzz(150)
@given(data=st.data())
def test_any_body_posted_to_the_rpc_server_is_answered_over_http(
    http: httpx.Client, calls: list[dict[str, Any]], data: st.DataObject
) -> None:
    body = data.draw(bodies(calls), label="body")
    content_type = data.draw(
        st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain"]),
        label="content type",
    )
    with tolerated():
        response = http.post("/", content=body, headers={"Content-Type": content_type})
        assert response.status_code < 500, response.text[:300]
        if response.status_code == 200:
            check_answer(response.content or None)
