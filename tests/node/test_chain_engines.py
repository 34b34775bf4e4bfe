"""The chain on either engine (`NodeConfig.engine`): a block revm builds is the block py-evm
builds (header and hash, stored body, JSON-RPC records), a store py-evm wrote is executed
once more by revm (to store the slot preimages revm needs) and then goes on alike, or is
refused with the fix when revm cannot execute it alike, and a follower on one engine
verifies a sequencer on the other, across processes.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from medledger.node import evm, evm_reads
from medledger.node.chain import Chain, Committed
from medledger.node.client import RpcClient
from medledger.node.config import DEMO_AUTHORITY_KEY, NodeConfig
from medledger.node.errors import ConfigError
from medledger.node.records import Reader
from medledger.node.seal import Sealer
from medledger.sdk.compiler import load_artifacts
from tests.node.conftest import NodeProcess, admin_account, run_lifecycle, sign

TIMESTAMP = 1_800_000_000


def _raws(config: NodeConfig) -> list[str]:
    """One block's worth: a transfer, an admission (storage and logs), a revert, a stale
    nonce (dropped), a creation, and a transaction at a price (fees to the sealer)."""
    admin = admin_account(config)
    partners = Web3().eth.contract(
        address=Web3.to_checksum_address(config.contract_address("Partners")),
        abi=load_artifacts()["Partners"].abi,
    )
    admit = partners.encode_abi("admit", [Account.create().address, 1, "Regulator"])
    return [
        sign(admin, config, nonce=0, to=Account.create().address),
        sign(admin, config, nonce=1, to=partners.address, data=admit, gas=300_000),
        sign(admin, config, nonce=2, to=partners.address, data=admit, gas=300_000),  # reverts
        sign(admin, config, nonce=0),  # stale: dropped
        sign(admin, config, nonce=3, to="", data=bytes.fromhex("600160005500"), gas=100_000),
        sign(admin, config, nonce=4, gasPrice=2),
    ]


def _produce(config: NodeConfig, data_dir: Path, raws: list[str]) -> tuple[Chain, Committed]:
    chain = Chain(replace(config, data_dir=data_dir))
    txs = [evm.decode_transaction(bytes.fromhex(raw[2:])) for raw in raws]
    sealer = Sealer(DEMO_AUTHORITY_KEY, chain_id=config.chain_id)
    return chain, chain.produce(txs, timestamp=TIMESTAMP, sealer=sealer)


def test_a_block_built_on_revm_is_the_block_py_evm_builds(
    node_config: NodeConfig, tmp_path: Path
) -> None:
    rich: dict[str, str] = {admin_account(node_config).address: hex(10**21)}
    config = replace(node_config, alloc=rich)
    raws = _raws(config)
    made = {
        engine: _produce(replace(config, engine=engine), tmp_path / engine, raws)
        for engine in ("pyevm", "revm")
    }
    (ref_chain, ref), (revm_chain, got) = made["pyevm"], made["revm"]
    try:
        assert got == ref  # hash (so every header field), transactions, dropped, deferred
        assert len(ref.tx_hashes) == 5 and len(ref.dropped) == 1
        with ref_chain.snapshot() as a, revm_chain.snapshot() as b:
            header_a = evm_reads.header_by_hash(a, ref.hash)
            header_b = evm_reads.header_by_hash(b, got.hash)
            assert header_a == header_b
            assert evm_reads.raw_block(a, header_a) == evm_reads.raw_block(b, header_b)
            assert evm_reads.head_hash(a) == evm_reads.head_hash(b)
            reader_a, reader_b = Reader(a), Reader(b)
            statuses = []
            for tx_hash in ref.tx_hashes:
                assert reader_a.raw_transaction(tx_hash) == reader_b.raw_transaction(tx_hash)
                assert reader_a.raw_receipt(tx_hash) == reader_b.raw_receipt(tx_hash)
                receipt = reader_b.receipt(tx_hash)
                assert receipt is not None
                statuses.append(receipt["status"])
            assert statuses == ["0x1", "0x1", "0x0", "0x1", "0x1"]
            sealer = bytes.fromhex(Account.from_key(DEMO_AUTHORITY_KEY).address[2:])
            assert evm_reads.account(b, header_b, sealer) == evm_reads.account(a, header_a, sealer)
            assert evm_reads.account(b, header_b, sealer)[0] > 0  # the fee was paid
    finally:
        ref_chain.close()
        revm_chain.close()


def test_a_store_py_evm_wrote_is_replayed_once_for_revm_and_goes_on_alike(
    node_config: NodeConfig, tmp_path: Path
) -> None:
    """revm needs every slot's preimage (it loads accounts whole); on a store py-evm wrote
    it executes the blocks once more to store them, and then builds what py-evm builds. In
    block 2 the second admission of the member block 1 admitted must read its slot, which
    revm sees only if the replay stored its preimage (else: admitted twice, a divergence)."""
    admin = admin_account(node_config)
    config = replace(node_config, engine="pyevm", data_dir=tmp_path / "a")
    partners = Web3().eth.contract(
        address=Web3.to_checksum_address(config.contract_address("Partners")),
        abi=load_artifacts()["Partners"].abi,
    )
    admit = partners.encode_abi("admit", [Account.create().address, 1, "Regulator"])
    block_1 = [sign(admin, config, nonce=0, to=partners.address, data=admit, gas=300_000)]
    block_2 = [sign(admin, config, nonce=1, to=partners.address, data=admit, gas=300_000)]
    chain, _ = _produce(config, config.data_dir, block_1)
    chain.close()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    sealer = Sealer(DEMO_AUTHORITY_KEY, chain_id=config.chain_id)
    txs = [evm.decode_transaction(bytes.fromhex(raw[2:])) for raw in block_2]
    made = {}
    for engine, directory in (("revm", "a"), ("pyevm", "b")):
        chain = Chain(replace(config, engine=engine, data_dir=tmp_path / directory))
        try:
            made[engine] = chain.produce(txs, timestamp=TIMESTAMP + 1, sealer=sealer)
            with chain.snapshot() as snap:
                receipt = Reader(snap).receipt(made[engine].tx_hashes[0])
            assert receipt is not None and receipt["status"] == "0x0"  # already a member
        finally:
            chain.close()
    assert made["revm"] == made["pyevm"]
    Chain(replace(config, engine="revm")).close()  # marked: opened without a replay


def test_revm_refuses_a_py_evm_store_it_cannot_execute_alike_and_names_the_fix(
    node_config: NodeConfig, tmp_path: Path
) -> None:
    admin = admin_account(node_config)
    config = replace(node_config, engine="pyevm", data_dir=tmp_path / "a")
    listed = [{"address": admin.address, "storageKeys": []}]
    # An access list (admission refuses it; a block py-evm made may hold one): revm 8
    # would keep the listed accounts warm.
    raws = [sign(admin, config, nonce=0, type=1, accessList=listed)]
    chain, committed = _produce(config, config.data_dir, raws)
    chain.close()
    assert len(committed.tx_hashes) == 1
    with pytest.raises(ConfigError, match="keep --engine pyevm, or resync"):
        Chain(replace(config, engine="revm"))
    Chain(config).close()  # py-evm still runs it


def test_an_unknown_engine_is_a_config_error(node_config: NodeConfig) -> None:
    with pytest.raises(ConfigError, match="pyevm, revm"):
        replace(node_config, engine="evmone")


def _same_chain(sequencer: str, follower: str, timeout: float = 60.0) -> int:
    import time

    seq, fol = RpcClient(sequencer), RpcClient(follower)
    head = int(seq.call("eth_blockNumber"), 16)
    deadline = time.monotonic() + timeout
    while int(fol.call("eth_blockNumber"), 16) < head:
        status = fol.call("medledger_status")
        assert not status.get("divergence"), status
        assert time.monotonic() < deadline, "the follower did not catch up"
        time.sleep(0.1)
    for number in range(head + 1):
        ours = fol.call("eth_getBlockByNumber", hex(number), False)
        theirs = seq.call("eth_getBlockByNumber", hex(number), False)
        assert ours == theirs, f"block {number}"
    for tx_hash in seq.call("eth_getBlockByNumber", hex(head), False)["transactions"]:
        assert fol.call("eth_getTransactionReceipt", tx_hash) == seq.call(
            "eth_getTransactionReceipt", tx_hash
        )
    seq.close()
    fol.close()
    return head


@pytest.mark.parametrize(
    ("sequencer_engine", "follower_engine"), [("pyevm", "revm"), ("revm", "pyevm")]
)
def test_a_follower_on_one_engine_verifies_a_sequencer_on_the_other(
    spawn: Callable[..., NodeProcess],
    genesis_file: Path,
    node_config: NodeConfig,
    sequencer_engine: str,
    follower_engine: str,
) -> None:
    sequencer = spawn("seq", genesis_file, extra=("--engine", sequencer_engine))
    follower = spawn("fol", genesis_file, follow=sequencer.url, extra=("--engine", follower_engine))
    run_lifecycle(sequencer.url, node_config)
    assert _same_chain(sequencer.url, follower.url) > 20
    assert f"engine        {sequencer_engine}" in sequencer.log.read_text()
    assert f"engine        {follower_engine}" in follower.log.read_text()
