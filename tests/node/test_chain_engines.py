"""The chain on either engine (`NodeConfig.engine`): a block revm builds is the block py-evm
builds (header and hash, stored body, JSON-RPC records), a store is run by revm only if
revm wrote it from its genesis on, and a follower on one engine verifies a sequencer on
the other, across processes.
"""

from __future__ import annotations

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


def test_revm_runs_only_a_store_it_wrote_and_names_the_fix(
    node_config: NodeConfig, tmp_path: Path
) -> None:
    py_evm = replace(node_config, data_dir=tmp_path / "a", engine="pyevm")
    Chain(py_evm).close()
    with pytest.raises(ConfigError, match="resync"):
        Chain(replace(py_evm, engine="revm"))
    revm = replace(node_config, data_dir=tmp_path / "b", engine="revm")
    Chain(revm).close()
    Chain(revm).close()  # its own store: opened again
    Chain(replace(revm, engine="pyevm")).close()  # py-evm writes no preimages: the mark goes
    with pytest.raises(ConfigError, match="--engine revm"):
        Chain(revm)


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
