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


OPS = {
    "STOP": 0x00, "ADD": 0x01, "MUL": 0x02, "SUB": 0x03, "DIV": 0x04, "LT": 0x10, "GT": 0x11,
    "SLT": 0x12, "SGT": 0x13, "EQ": 0x14, "ISZERO": 0x15, "AND": 0x16, "OR": 0x17, "XOR": 0x18,
    "NOT": 0x19, "SHL": 0x1B, "SHR": 0x1C, "SHA3": 0x20, "ADDRESS": 0x30, "CALLER": 0x33,
    "CALLVALUE": 0x34, "CALLDATALOAD": 0x35, "CALLDATASIZE": 0x36, "POP": 0x50, "MLOAD": 0x51,
    "MSTORE": 0x52, "SSTORE": 0x55, "JUMPI": 0x57, "JUMPDEST": 0x5B, "PUSH0": 0x5F,
    "DUP16": 0x8F, "SWAP16": 0x9F,
}  # fmt: skip
MAX = 2**256 - 1


def _push(value: int) -> bytes:
    data = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return bytes([0x5F + len(data)]) + data


def _ops(*items: str | int) -> bytes:
    """Assemble opcode names and ints (pushed with the shortest PUSH)."""
    return b"".join(bytes([OPS[i]]) if isinstance(i, str) else _push(i) for i in items)


def _long_deployer(runtime: bytes) -> bytes:
    """`_deployer` for runtime code longer than 255 bytes (PUSH2 sizes)."""
    n = len(runtime).to_bytes(2, "big")
    return b"\x61" + n + b"\x61\x00\x0f\x60\x00\x39\x61" + n + b"\x60\x00\xf3" + runtime


def _every_inline_opcode() -> bytes:
    """Runtime code that stores, slot by slot, the results of every opcode the fast loop
    runs inline, at their edges (wrap-around, signs, shifts of 256 and more, division by
    zero, calldata past its end, memory growth, deep DUP/SWAP, values pushed as bytes by
    py-evm's own opcodes), so any difference changes the state root."""
    cases: list[bytes] = [
        _ops(2, MAX, "ADD"), _ops(5, 3, "SUB"), _ops(4, 2**255, "MUL"), _ops(0, 7, "DIV"),
        _ops(3, 100, "DIV"), _ops(MAX, 1, "SLT"), _ops(1, MAX, "SLT"), _ops(MAX, 1, "SGT"),
        _ops(1, MAX, "SGT"), _ops(1, 256, "SHL"), _ops(3, 255, "SHL"), _ops(0xFF0, 300, "SHR"),
        _ops(0xFF0, 4, "SHR"), _ops(0, "NOT"), _ops(0xF0, 0x3C, "XOR"), _ops(0xF0, 0x0F, "OR"),
        _ops(0xF0, 0x3C, "AND"), _ops(7, 7, "EQ"), _ops(7, "ISZERO"), _ops(0, "ISZERO"),
        _ops(2, 1, "LT"), _ops(2, 1, "GT"), _ops(30, "CALLDATALOAD"), _ops(1000, "CALLDATALOAD"),
        _ops("CALLDATASIZE"), _ops("CALLVALUE"),
        _ops("CALLER", 0x20, "MSTORE", 0x20, "MLOAD"),
        _ops("CALLER", "ADDRESS", "XOR", 1, "ADD"),
        _ops(0x20, 0x20, "SHA3", 1, "ADD"),
        _ops(MAX, 0x1000, "MSTORE", 0x1000, "MLOAD"), _ops(0x2000, "MLOAD"),
        _ops(*range(1, 18), "SWAP16", "DUP16"),
    ]  # fmt: skip
    code = b"".join(case + _ops(slot + 1, "SSTORE") for slot, case in enumerate(cases))
    # JUMPI taken when calldata word 0 is non-zero: then slot 100 holds 2, else 1.
    tail = _ops(1, 100, "SSTORE", 0, "CALLDATALOAD")
    jump_at = len(code) + len(tail) + 5  # after PUSH2 <dest>, JUMPI, STOP
    tail += bytes([0x61]) + jump_at.to_bytes(2, "big") + _ops("JUMPI", "STOP", "JUMPDEST")
    return code + tail + _ops(2, 100, "SSTORE", "STOP")


def test_every_inline_opcode_gives_what_py_evm_gives(
    tmp_path: Path, node_config: NodeConfig
) -> None:
    from node.config import create_address

    admin = admin_account(node_config)
    sender = bytes.fromhex(admin.address[2:])
    program = Web3.to_checksum_address(create_address(sender, 0))
    underflow = Web3.to_checksum_address(create_address(sender, 1))
    word = (1).to_bytes(32, "big") + bytes(range(1, 9))
    deploy = _long_deployer(_every_inline_opcode())
    raws = [
        sign(admin, node_config, nonce=0, to="", data=deploy, gas=2_000_000),
        sign(admin, node_config, nonce=1, to="", data=_deployer(_ops("POP")), gas=100_000),
        sign(admin, node_config, nonce=2, to=program, data=bytes(32), gas=2_000_000),
        # the state keeps what this run stored: JUMPI taken, calldata read past its end
        sign(admin, node_config, nonce=3, to=program, data=word, gas=2_000_000),
        sign(admin, node_config, nonce=4, to=program, data=word, gas=60_000),  # out of gas
        sign(admin, node_config, nonce=5, to=underflow, gas=50_000),
    ]  # fmt: skip
    fast = _block(tmp_path, node_config, raws, reference=False)
    reference = _block(tmp_path, node_config, raws, reference=True)
    assert fast == reference
    assert [rlp_status(r) for r in fast[1]] == [1, 1, 1, 1, 0, 0]
