"""A contract that calls itself until the EVM's call-depth limit (1024) stops it: the block
still builds on a worker thread, as the sequencer builds it, and it is the block py-evm's
own loop builds. Each call level costs several Python frames; py-evm raises the recursion
limit for this, and a RecursionError here would fail the whole block."""

from __future__ import annotations

import threading
from pathlib import Path

from eth_account import Account
from web3 import Web3

from medledger.node import evm
from medledger.node.store import LmdbStore

# CALL(gas=GAS, to=ADDRESS, value=0, in=0/0, out=0/0), then STOP: recursion until depth 1024.
RUNTIME = bytes.fromhex("60006000600060006000305af100")
INITCODE = bytes.fromhex("600e600c600039600e6000f3") + RUNTIME
CHAIN_ID = 1337
SENDER = Account.from_key("0x" + "24" * 32)


def _build(path: Path, *, reference: bool) -> tuple[bytes, bytes, int]:
    store = LmdbStore(path)
    buffer = store.write_buffer()
    spec = evm.GenesisSpec(
        chain_id=CHAIN_ID,
        gas_limit=10**9,
        timestamp=1,
        deployer=b"\x01" * 20,
        deployments=(("Recurse", INITCODE),),
    )
    genesis, addresses = evm.init_genesis(buffer, spec)
    to = Web3.to_checksum_address(addresses["Recurse"])
    raw = SENDER.sign_transaction(
        {"chainId": CHAIN_ID, "nonce": 0, "to": to,
         "data": b"", "gas": 900_000_000, "gasPrice": 0, "value": 0}
    ).raw_transaction  # fmt: skip
    tx = evm.decode_transaction(bytes(raw))
    built = evm.build_block(
        buffer, genesis, [tx], chain_id=CHAIN_ID, coinbase=bytes(20), timestamp=2,
        gas_limit=10**9, reference=reference,
    )  # fmt: skip
    receipt = built.receipts[0]
    buffer.close()
    store.close()
    return built.hash, receipt.encode(), int(receipt.gas_used)


def test_recursion_to_the_depth_limit_builds_the_reference_block(tmp_path: Path) -> None:
    results: dict[str, tuple[bytes, bytes, int]] = {}

    def build(name: str, reference: bool) -> None:
        results[name] = _build(tmp_path / name, reference=reference)

    threads = [
        threading.Thread(target=build, args=("ours", False)),
        threading.Thread(target=build, args=("reference", True)),
    ]
    for thread in threads:
        thread.start()
        thread.join()
    assert set(results) == {"ours", "reference"}, "a block build raised on its thread"
    assert results["ours"] == results["reference"]
    # ~107 gas per level (a warm CALL and its pushes): the recursion went 1,024 deep.
    assert results["ours"][2] > 1_024 * 100
