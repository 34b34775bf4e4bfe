"""The node's inlined opcode loop builds exactly the blocks py-evm's own loop builds:
successes, reverts with data, out-of-gas and plain transfers, compared by block hash
(state, receipts and transactions roots included) and by every receipt."""

from __future__ import annotations

from pathlib import Path

from eth_account import Account
from web3 import Web3

from node import evm
from node.config import NodeConfig
from node.store import LmdbStore
from sdk.compiler import load_artifacts
from tests.node.conftest import admin_account, sign


def _block(tmp_path: Path, config: NodeConfig, raws: list[str], *, reference: bool):
    store = LmdbStore(tmp_path / ("ref" if reference else "fast"))
    buffer = store.write_buffer()
    spec = evm.GenesisSpec(
        chain_id=config.chain_id,
        gas_limit=config.block_gas_limit,
        timestamp=config.genesis_timestamp,
        deployer=bytes.fromhex(config.deployer[2:]),
        deployments=config.deployments(),
    )
    genesis, _ = evm.init_genesis(buffer, spec)
    txs = [evm.decode_transaction(bytes.fromhex(r[2:])) for r in raws]
    built = evm.build_block(
        buffer,
        genesis,
        txs,
        chain_id=config.chain_id,
        coinbase=bytes(20),
        timestamp=config.genesis_timestamp + 10,
        gas_limit=config.block_gas_limit,
        reference=reference,
    )
    result = (built.hash, [r.encode() for r in built.receipts], len(built.dropped))
    buffer.close()
    store.close()
    return result


def test_the_fast_opcode_loop_builds_the_same_block_as_py_evm(
    tmp_path: Path, node_config: NodeConfig
) -> None:
    admin = admin_account(node_config)
    partners = Web3().eth.contract(
        address=node_config.contract_address("Partners"), abi=load_artifacts()["Partners"].abi
    )
    member = Account.create().address
    admit = partners.encode_abi("admit", [member, 1, "Regulator"])
    from node.config import create_address

    bad_jump = bytes.fromhex("600456605b00")  # PUSH1 4, JUMP into PUSH1's data byte 0x5b
    good_jump = bytes.fromhex("600456005b00")  # PUSH1 4, JUMP to a JUMPDEST, STOP
    sender = bytes.fromhex(admin.address[2:])
    bad_at, good_at = create_address(sender, 4), create_address(sender, 5)
    raws = [
        sign(admin, node_config, nonce=0, to=partners.address, data=admit, gas=400_000),
        # admitting twice reverts with a custom error
        sign(admin, node_config, nonce=1, to=partners.address, data=admit, gas=400_000),
        # too little gas: out of gas inside the contract
        sign(admin, node_config, nonce=2, to=partners.address, data=admit, gas=30_000),
        sign(admin, node_config, nonce=3, to=member, gas=21_000),
        sign(admin, node_config, nonce=4, to="", data=_deployer(bad_jump), gas=100_000),
        sign(admin, node_config, nonce=5, to="", data=_deployer(good_jump), gas=100_000),
        sign(admin, node_config, nonce=6, to=Web3.to_checksum_address(bad_at), gas=50_000),
        sign(admin, node_config, nonce=7, to=Web3.to_checksum_address(good_at), gas=50_000),
        # a stale nonce is dropped, not included
        sign(admin, node_config, nonce=0, to=member, gas=21_000),
    ]
    fast = _block(tmp_path, node_config, raws, reference=False)
    reference = _block(tmp_path, node_config, raws, reference=True)
    assert fast == reference
    statuses = [rlp_status(r) for r in fast[1]]
    assert statuses == [1, 0, 0, 1, 1, 1, 0, 1]
    assert fast[2] == 1


def _deployer(runtime: bytes) -> bytes:
    """Init code that returns `runtime`: CODECOPY it to memory and RETURN it."""
    n = len(runtime)
    return bytes([0x60, n, 0x60, 0x0C, 0x60, 0x00, 0x39, 0x60, n, 0x60, 0x00, 0xF3]) + runtime


def rlp_status(encoded: bytes) -> int:
    import rlp

    status = rlp.decode(encoded)[0]
    return 1 if status == b"\x01" else 0
