"""eth_call and eth_estimateGas on revm (`node.revm_calls`) against py-evm (`node.evm`),
the reference: every message the SDK sent through a node during the whole custody
lifecycle (each contract operation it estimates or reads), reverts with custom errors
and out-of-gas runs give the same success, output, gas used and estimate on both."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak

from medledger.node import evm, evm_reads
from medledger.node.app import Node
from medledger.node.calls import CallResult
from medledger.node.client import RpcClient
from medledger.node.config import NodeConfig
from medledger.node.engine import UnsupportedByEngine, calldata_floor
from medledger.node.errors import RpcError
from medledger.node.revm_calls import RevmCalls
from medledger.node.rpc import Rpc
from tests.node.conftest import run_lifecycle


@dataclass(frozen=True, slots=True)
class Sent:
    block: bytes
    message: tuple[tuple[str, Any], ...]
    gas: int
    estimate: bool


@dataclass(slots=True)
class Lived:
    node: Node
    sent: list[Sent]


@pytest.fixture(scope="module")
def lived(tmp_path_factory: pytest.TempPathFactory, node_config: NodeConfig) -> Iterator[Lived]:
    """A node (on revm) that served the whole lifecycle, and every message its RPC ran."""
    config = replace(
        node_config, engine="revm", data_dir=tmp_path_factory.mktemp("calls") / "n", rpc_port=0
    )
    node = Node(config)
    node.start()
    sent: list[Sent] = []
    rpc: Any = node.rpc
    run = rpc._run

    def recording(
        snap: Any, header: Any, message: dict[str, Any], gas: int, seconds: float, *, estimate: bool
    ) -> CallResult:
        sent.append(Sent(bytes(header.hash), tuple(message.items()), gas, estimate))
        result: CallResult = run(snap, header, message, gas, seconds, estimate=estimate)
        return result

    rpc._run = recording
    try:
        run_lifecycle(node.url, config)
        yield Lived(node, sent)
    finally:
        node.stop()


def _both(lived: Lived, sent: Sent, timestamp: int) -> tuple[CallResult, CallResult]:
    message = dict(sent.message)
    chain_id = lived.node.config.chain_id
    with lived.node.chain.snapshot() as snap:
        header = evm_reads.header_by_hash(snap, sent.block)
        assert header is not None
        on: dict[str, Any] = {"chain_id": chain_id, "timestamp": timestamp}
        revm = RevmCalls()
        if sent.estimate:
            got = revm.estimate_gas(snap, header, **on, **message, gas_cap=sent.gas)
            ref = evm.estimate_gas(snap, sent.block, **on, **message, gas_cap=sent.gas)
        else:
            got = revm.call(snap, header, **on, **message, gas=sent.gas)
            ref = evm.call(snap, sent.block, **on, **message, gas=sent.gas)
    return got, ref


def _kinds(sent: list[Sent]) -> dict[tuple[bytes, bytes, bool], Sent]:
    """One message per contract, function and kind (call or estimate)."""
    kinds: dict[tuple[bytes, bytes, bool], Sent] = {}
    for one in sent:
        message = dict(one.message)
        kinds.setdefault((message["to"], message["data"][:4], one.estimate), one)
    return kinds


def test_every_operation_of_the_lifecycle_runs_the_same_on_revm_and_py_evm(
    lived: Lived,
) -> None:
    kinds = _kinds([s for s in lived.sent if dict(s.message)["to"]])
    assert sum(estimate for _, _, estimate in kinds) >= 20  # every write the SDK made
    timestamp = int(time.time())
    for sent in kinds.values():
        got, ref = _both(lived, sent, timestamp)
        assert got == ref, dict(sent.message)
        assert got.success or not sent.estimate  # the SDK only sends what estimates well


def _items_dispense(lived: Lived) -> tuple[bytes, bytes]:
    """The lifecycle's last message to Items.dispense: its address and calldata."""
    selector = keccak(text="dispense(bytes32[],bytes32)")[:4]
    for sent in reversed(lived.sent):
        message = dict(sent.message)
        if message["data"][:4] == selector:
            return message["to"], message["data"]
    raise AssertionError("the lifecycle dispensed nothing")


def _at_head(lived: Lived, *, gas: int = 30_000_000, **message: Any) -> Sent:
    fields = {"sender": bytes(20), "to": b"", "data": b"", "value": 0, **message}
    return Sent(lived.node.chain.head_hash, tuple(fields.items()), gas, False)


def test_a_custom_error_revert_and_out_of_gas_are_the_same_on_both(lived: Lived) -> None:
    items, data = _items_dispense(lived)  # the item was dispensed: again is a custom error
    sender = next(
        dict(s.message)["sender"] for s in reversed(lived.sent) if dict(s.message)["data"] == data
    )
    timestamp = int(time.time())
    for estimate in (False, True):
        sent = replace(_at_head(lived, sender=sender, to=items, data=data), estimate=estimate)
        got, ref = _both(lived, sent, timestamp)
        assert got == ref
        assert not got.success and got.error == "execution reverted" and len(got.output) > 4
    for gas in (25_000, 28_000):
        sent = _at_head(lived, sender=sender, to=items, data=data, gas=gas)
        _same_out_of_gas(lived, sent, timestamp)
    got, _ = _both(lived, _at_head(lived, sender=sender, to=items, data=data, gas=25_000), 0)
    assert got.gas_used == 25_000 and got.error.startswith("OutOfGas")


def test_writes_short_of_gas_run_out_of_it_the_same_on_both(lived: Lived) -> None:
    timestamp = int(time.time())
    estimated = [s for s in _kinds(lived.sent).values() if s.estimate and dict(s.message)["to"]]
    for sent in estimated[:8]:
        needed = _both(lived, replace(sent, estimate=False), timestamp)[0].gas_used
        floor = calldata_floor(dict(sent.message)["data"])
        short = replace(sent, gas=max(floor, needed * 2 // 3), estimate=False)
        _same_out_of_gas(lived, short, timestamp)


def _same_out_of_gas(lived: Lived, sent: Sent, timestamp: int) -> None:
    """Short of gas, a run fails the same way on both: out of gas, or (when the gas runs
    out in a call the contract checks) a revert with the same data."""
    got, ref = _both(lived, sent, timestamp)
    assert (got.success, got.output, got.gas_used) == (ref.success, ref.output, ref.gas_used)
    assert not got.success
    if got.gas_used == sent.gas:
        assert got.error.split("(")[0] == ref.error.split("(")[0] == "OutOfGas"
    else:
        assert got.error == ref.error


def test_what_revm_cannot_run_as_prague_does_is_left_to_py_evm(lived: Lived) -> None:
    revm = RevmCalls()
    bls = (0x0B).to_bytes(20, "big")
    with lived.node.chain.snapshot() as snap:
        header = evm_reads.header_by_hash(snap, lived.node.chain.head_hash)
        on: dict[str, Any] = {"chain_id": 1, "timestamp": int(time.time()), "value": 0}
        cases = [
            {"sender": bytes(20), "to": b"", "data": bytes.fromhex("5b600056"), "gas": 100_000},
            {"sender": bytes(20), "to": bls, "data": b"\x00" * 256, "gas": 100_000},
            {"sender": bytes(20), "to": bls, "data": b"\x01" * 100, "gas": 21_500},  # < floor
        ]
        for case in cases:
            with pytest.raises(UnsupportedByEngine):
                revm.call(snap, header, **on, **case)
        with pytest.raises(UnsupportedByEngine, match="outlast the time budget"):
            revm.call(snap, header, **on, **{**cases[1], "to": bytes(19) + b"\x04"}, seconds=0.001)


def test_the_node_answers_calls_and_estimates_with_revm(lived: Lived) -> None:
    rpc: Rpc = lived.node.rpc
    assert rpc._revm is not None
    runs = rpc._revm.runs
    items, data = _items_dispense(lived)
    client = RpcClient(lived.node.url)
    try:
        with pytest.raises(RpcError) as raised:
            client.call("eth_estimateGas", {"to": "0x" + items.hex(), "data": "0x" + data.hex()})
        assert raised.value.code == 3 and "execution reverted" in raised.value.message
        identity = "0x" + (4).to_bytes(20, "big").hex()
        assert client.call("eth_call", {"to": identity, "data": "0xabcd"}) == "0xabcd"
    finally:
        client.close()
    assert rpc._revm.runs >= runs + 2


def test_a_py_evm_node_answers_with_py_evm(tmp_path: Path, node_config: NodeConfig) -> None:
    node = Node(replace(node_config, engine="pyevm", data_dir=tmp_path / "n", rpc_port=0))
    node.start()
    try:
        assert node.rpc._revm is None
        identity = "0x" + (4).to_bytes(20, "big").hex()
        client = RpcClient(node.url)
        try:
            assert client.call("eth_call", {"to": identity, "data": "0xabcd"}) == "0xabcd"
        finally:
            client.close()
    finally:
        node.stop()


def test_concurrent_estimates_at_one_head_agree(lived: Lived) -> None:
    from concurrent.futures import ThreadPoolExecutor

    revm = RevmCalls()  # one per node: its reads at a root are shared by the threads
    kinds = [s for s in _kinds(lived.sent).values() if s.estimate and dict(s.message)["to"]]
    head = lived.node.chain.head_hash
    timestamp = int(time.time())

    def estimate(sent: Sent) -> int:
        with lived.node.chain.snapshot() as snap:
            header = evm_reads.header_by_hash(snap, head)
            on: dict[str, Any] = {"chain_id": lived.node.config.chain_id, "timestamp": timestamp}
            message = dict(sent.message)
            try:
                return revm.estimate_gas(snap, header, **on, **message, gas_cap=sent.gas).gas_used
            except UnsupportedByEngine:
                return -1

    once = [estimate(sent) for sent in kinds[:6]]
    revm = RevmCalls()
    with ThreadPoolExecutor(4) as pool:
        again = list(pool.map(estimate, kinds[:6] * 4))
    assert again == once * 4 and min(once) > 0
