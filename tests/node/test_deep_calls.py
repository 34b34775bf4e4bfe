"""A contract that calls itself until the EVM's call-depth limit (1024) stops it: the block
builds on a worker thread, as the sequencer builds it, on revm (the node's engine) and on
py-evm (the reference), and both build the same block. On py-evm each call level costs
several Python frames; py-evm raises the recursion limit for this, and a RecursionError
there would fail the whole block."""

from __future__ import annotations

import threading
from pathlib import Path

import rlp
from eth_account import Account

from medledger.node import evm
from medledger.node.config import create_address
from tests.node.conftest import BuiltOn, build_on

# CALL(gas=GAS, to=ADDRESS, value=0, in=0/0, out=0/0), then STOP: recursion until depth 1024.
RUNTIME = bytes.fromhex("60006000600060006000305af100")
INITCODE = bytes.fromhex("600e600c600039600e6000f3") + RUNTIME
CHAIN_ID = 1337
SENDER = Account.from_key("0x" + "24" * 32)
DEPLOYER = b"\x01" * 20


def test_recursion_to_the_depth_limit_builds_the_reference_block(tmp_path: Path) -> None:
    spec = evm.GenesisSpec(
        chain_id=CHAIN_ID,
        gas_limit=10**9,
        timestamp=1,
        deployer=DEPLOYER,
        deployments=(("Recurse", INITCODE),),
    )
    raw = SENDER.sign_transaction(
        {"chainId": CHAIN_ID, "nonce": 0, "to": create_address(DEPLOYER, 0),
         "data": b"", "gas": 900_000_000, "gasPrice": 0, "value": 0}
    ).raw_transaction  # fmt: skip
    results: dict[str, BuiltOn] = {}

    def build(engine: str) -> None:
        results[engine] = build_on(engine, tmp_path / engine, spec, ["0x" + bytes(raw).hex()])

    for engine in ("revm", "pyevm"):
        thread = threading.Thread(target=build, args=(engine,))
        thread.start()
        thread.join()
    assert set(results) == {"revm", "pyevm"}, "a block build raised on its thread"
    assert results["revm"] == results["pyevm"]
    assert results["revm"].dropped == 0
    gas_used = int.from_bytes(rlp.decode(results["revm"].receipts[0])[1], "big")
    # ~107 gas per level (a warm CALL and its pushes): the recursion went 1,024 deep.
    assert gas_used > 1_024 * 100
