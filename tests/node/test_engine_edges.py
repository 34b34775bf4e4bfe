"""revm (`node.engine_revm`, the node's engine) builds exactly the blocks py-evm (the
reference) builds, at the EVM's edges: successes, reverts with data, out-of-gas and plain
transfers, every opcode at its edges, storage gas and refunds, failing frames, message calls
and logs, the 63/64 cap, reverted writes, gas prices and value transfers, empty accounts and
self-destructs; compared by block hash (state, receipts and transactions roots included)
and by every receipt (status, cumulative gas, bloom, logs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import rlp
from eth_account import Account
from web3 import Web3

from medledger.node.chain import genesis_spec
from medledger.node.config import NodeConfig
from medledger.sdk.compiler import load_artifacts
from tests.node.conftest import admin_account, build_on, sign


def _block(
    tmp_path: Path,
    config: NodeConfig,
    raws: list[str],
    *,
    engine: str,
    alloc: tuple[tuple[bytes, int], ...] = (),
) -> tuple[bytes, list[bytes], int]:
    """The block `raws` make on a fresh genesis with `engine`: its hash, its receipts (as
    the receipt trie holds them) and how many transactions were dropped."""
    built = build_on(engine, tmp_path / engine, genesis_spec(config, alloc=alloc), raws)
    return built.hash, built.receipts, built.dropped


def test_revm_builds_the_same_block_as_py_evm(tmp_path: Path, node_config: NodeConfig) -> None:
    admin = admin_account(node_config)
    partners = Web3().eth.contract(
        address=node_config.contract_address("Partners"), abi=load_artifacts()["Partners"].abi
    )
    member = Account.create().address
    admit = partners.encode_abi("admit", [member, 1, "Regulator"])
    from medledger.node.config import create_address

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
    revm = _block(tmp_path, node_config, raws, engine="revm")
    reference = _block(tmp_path, node_config, raws, engine="pyevm")
    assert revm == reference
    statuses = [rlp_status(r) for r in revm[1]]
    assert statuses == [1, 0, 0, 1, 1, 1, 0, 1]
    assert revm[2] == 1


def _deployer(runtime: bytes) -> bytes:
    """Init code that returns `runtime`: CODECOPY it to memory and RETURN it."""
    n = len(runtime)
    return bytes([0x60, n, 0x60, 0x0C, 0x60, 0x00, 0x39, 0x60, n, 0x60, 0x00, 0xF3]) + runtime


def rlp_status(encoded: bytes) -> int:
    import rlp

    status = rlp.decode(encoded)[0]
    return 1 if status == b"\x01" else 0


OPS = {
    "STOP": 0x00, "ADD": 0x01, "MUL": 0x02, "SUB": 0x03, "DIV": 0x04, "SDIV": 0x05,
    "MOD": 0x06, "SMOD": 0x07, "ADDMOD": 0x08, "MULMOD": 0x09, "EXP": 0x0A,
    "SIGNEXTEND": 0x0B, "LT": 0x10, "GT": 0x11, "SLT": 0x12, "SGT": 0x13, "EQ": 0x14,
    "ISZERO": 0x15, "AND": 0x16, "OR": 0x17, "XOR": 0x18, "NOT": 0x19, "BYTE": 0x1A,
    "SHL": 0x1B, "SHR": 0x1C, "SAR": 0x1D, "SHA3": 0x20, "ADDRESS": 0x30, "ORIGIN": 0x32,
    "CALLER": 0x33, "CALLVALUE": 0x34, "CALLDATALOAD": 0x35, "CALLDATASIZE": 0x36,
    "CALLDATACOPY": 0x37, "CODESIZE": 0x38, "CODECOPY": 0x39, "GASPRICE": 0x3A,
    "RETURNDATASIZE": 0x3D,
    "RETURNDATACOPY": 0x3E, "TIMESTAMP": 0x42, "NUMBER": 0x43, "CHAINID": 0x46,
    "SELFBALANCE": 0x47, "POP": 0x50, "MLOAD": 0x51, "MSTORE": 0x52, "MSTORE8": 0x53,
    "SLOAD": 0x54, "SSTORE": 0x55, "JUMP": 0x56, "JUMPI": 0x57, "MSIZE": 0x59, "GAS": 0x5A,
    "JUMPDEST": 0x5B, "MCOPY": 0x5E, "PUSH0": 0x5F, "DUP1": 0x80, "DUP2": 0x81,
    "DUP3": 0x82, "DUP16": 0x8F, "SWAP1": 0x90, "SWAP16": 0x9F, "LOG0": 0xA0,
    "LOG1": 0xA1, "LOG2": 0xA2, "LOG3": 0xA3, "LOG4": 0xA4, "CALL": 0xF1,
    "CALLCODE": 0xF2, "RETURN": 0xF3, "DELEGATECALL": 0xF4, "STATICCALL": 0xFA,
    "REVERT": 0xFD, "BALANCE": 0x31,
}  # fmt: skip
MAX = 2**256 - 1
BYTES = int.from_bytes(bytes(range(1, 33)), "big")


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
    """Runtime code that stores, slot by slot, the results of every opcode the old fast loop
    runs inline, at their edges (wrap-around, signs, shifts of 256 and more, division by
    zero, calldata past its end, memory growth, copies past their source, deep DUP/SWAP,
    cold and warm slots, the gas left), so any difference changes the state root."""
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
        _ops(0, 5, "MOD"), _ops(7, MAX, "MOD"), _ops(3, MAX - 6, "SMOD"),
        _ops(MAX, 2**255, "SMOD"), _ops(0, MAX, "SMOD"), _ops(MAX - 2, 7, "SMOD"),
        _ops(MAX, 2**255, "SDIV"), _ops(2, MAX - 6, "SDIV"), _ops(0, 5, "SDIV"),
        _ops(MAX, 9, "SDIV"), _ops(0, 1, 2, "ADDMOD"), _ops(7, MAX, MAX, "ADDMOD"),
        _ops(12345, MAX, MAX, "MULMOD"), _ops(0, 3, 4, "MULMOD"),
        _ops(MAX, 3, "EXP"), _ops(0, 0, "EXP"), _ops(5, 0, "EXP"), _ops(256, 2, "EXP"),
        _ops(255, 2, "EXP"), _ops(2**64, MAX, "EXP"),
        _ops(0x80, 0, "SIGNEXTEND"), _ops(0x7F, 0, "SIGNEXTEND"), _ops(0x9234, 1, "SIGNEXTEND"),
        _ops(MAX >> 1, 31, "SIGNEXTEND"), _ops(0x80, 32, "SIGNEXTEND"),
        _ops(0x80, MAX, "SIGNEXTEND"),
        _ops(BYTES, 0, "BYTE"), _ops(BYTES, 31, "BYTE"), _ops(BYTES, 32, "BYTE"),
        _ops(BYTES, MAX, "BYTE"),
        _ops(2**255, 4, "SAR"), _ops(2**255, 256, "SAR"), _ops(5, 256, "SAR"), _ops(MAX, 1, "SAR"),
        _ops(2**254, 3, "SAR"), _ops(2**255, MAX, "SAR"), _ops(MAX, "NOT"), _ops(MAX, MAX, "XOR"),
        # SHA3 of nothing far out (no growth), unaligned, and growing memory unaligned
        _ops(0, 0x3000, "SHA3"), _ops(0x11, 5, "SHA3"), _ops(0x1F, 0x4041, "SHA3"),
        _ops("ORIGIN"), _ops("CODESIZE"), _ops("RETURNDATASIZE"), _ops("TIMESTAMP"),
        _ops("NUMBER"), _ops("CHAINID"), _ops("SELFBALANCE"), _ops("MSIZE"), _ops("GAS"),
        _ops(40, 3, 0x5000, "CALLDATACOPY", 0x5010, "MLOAD"),
        _ops(0, MAX, MAX, "CALLDATACOPY", "MSIZE"),
        _ops(50, 2, 0x6000, "CODECOPY", 0x6020, "MLOAD"),
        _ops(64, 2**20, 0x6100, "CODECOPY", 0x6100, "MLOAD", 1, "ADD"),
        _ops(0, 0, 0x7000, "RETURNDATACOPY", "MSIZE"),
        _ops(0x40, 0x5000, 0x5010, "MCOPY", 0x5010, "MLOAD"),
        _ops(0x40, 0x5030, 0x5000, "MCOPY", 0x5000, "MLOAD"),
        _ops(0x40, 0x9000, 0x9100, "MCOPY", "MSIZE"), _ops(0x40, 0x9200, 0x9100, "MCOPY", "MSIZE"),
        _ops(0, MAX, MAX, "MCOPY", "MSIZE"),
        _ops(0x1FF, 0x800, "MSTORE8", 0x7E1, "MLOAD"),
        _ops(5, "SLOAD"), _ops(0x9999, "SLOAD", 1, "ADD"), _ops(0x9999, "SLOAD", "GAS"),
        _ops(0, 3, "JUMPI", 7),  # not taken, so its invalid destination does not matter
    ]  # fmt: skip
    code = b"".join(case + _ops(slot + 1, "SSTORE") for slot, case in enumerate(cases))
    # JUMPI taken when calldata word 0 is non-zero: then slot 100 holds 2, else 1.
    tail = _ops(1, 100, "SSTORE", 0, "CALLDATALOAD")
    jump_at = len(code) + len(tail) + 5  # after PUSH2 <dest>, JUMPI, STOP
    tail += bytes([0x61]) + jump_at.to_bytes(2, "big") + _ops("JUMPI", "STOP", "JUMPDEST")
    return code + tail + _ops(2, 100, "SSTORE", "STOP")


def test_every_opcode_at_its_edges_gives_what_py_evm_gives(
    tmp_path: Path, node_config: NodeConfig
) -> None:
    from medledger.node.config import create_address

    admin = admin_account(node_config)
    sender = bytes.fromhex(admin.address[2:])
    program = Web3.to_checksum_address(create_address(sender, 0))
    underflow = Web3.to_checksum_address(create_address(sender, 1))
    word = (1).to_bytes(32, "big") + bytes(range(1, 9))
    deploy = _long_deployer(_every_inline_opcode())
    raws = [
        sign(admin, node_config, nonce=0, to="", data=deploy, gas=3_000_000),
        sign(admin, node_config, nonce=1, to="", data=_deployer(_ops("POP")), gas=100_000),
        sign(admin, node_config, nonce=2, to=program, data=bytes(32), gas=5_000_000),
        # the state keeps what this run stored: JUMPI taken, calldata read past its end
        sign(admin, node_config, nonce=3, to=program, data=word, gas=5_000_000),
        sign(admin, node_config, nonce=4, to=program, data=word, gas=60_000),  # out of gas
        sign(admin, node_config, nonce=5, to=underflow, gas=50_000),
    ]  # fmt: skip
    revm = _block(tmp_path, node_config, raws, engine="revm")
    reference = _block(tmp_path, node_config, raws, engine="pyevm")
    assert revm == reference
    assert [rlp_status(r) for r in revm[1]] == [1, 1, 1, 1, 0, 0]


def _assemble(*items: str | int | tuple[str, str]) -> bytes:
    """`_ops` with labels: ("@", name) places a JUMPDEST named `name`, ("->", name) pushes
    its position (PUSH2)."""
    positions: dict[str, int] = {}
    for _ in range(2):  # the first pass finds the labels' positions
        code = b""
        for item in items:
            if isinstance(item, tuple):
                kind, name = item
                if kind == "@":
                    positions[name] = len(code)
                    code += _ops("JUMPDEST")
                else:
                    code += b"\x61" + positions.get(name, 0).to_bytes(2, "big")
            else:
                code += _ops(item)
    return code


# Calldata is (slot, value) word pairs: SSTORE each value, except that a value of 2**256-1
# SLOADs the slot instead and logs what it read.
STORAGE = _assemble(
    "PUSH0", ("@", "loop"),
    "DUP1", "CALLDATASIZE", "GT", "ISZERO", ("->", "end"), "JUMPI",
    "DUP1", 32, "ADD", "CALLDATALOAD", "DUP2", "CALLDATALOAD",
    "DUP2", "NOT", "ISZERO", ("->", "read"), "JUMPI",
    "SSTORE", ("->", "next"), "JUMP",
    ("@", "read"), "SLOAD", "PUSH0", "MSTORE", "POP", 32, "PUSH0", "LOG0",
    ("@", "next"), 64, "ADD", ("->", "loop"), "JUMP",
    ("@", "end"), "STOP",
)  # fmt: skip


def _proxy(call: str) -> bytes:
    """Calldata (gas1, gas2, target, payload...): CALL or STATICCALL `target` with the
    payload twice in one transaction, first with gas1 then gas2; store both successes and
    the size of the last return data."""
    value = ["PUSH0"] if call == "CALL" else []
    once = [
        "PUSH0", "PUSH0", "DUP3", "PUSH0", *value, 64, "CALLDATALOAD",
    ]  # fmt: skip
    return _ops(
        96, "CALLDATASIZE", "SUB", "DUP1", 96, "PUSH0", "CALLDATACOPY",
        *once, "PUSH0", "CALLDATALOAD", call, "PUSH0", "SSTORE",
        *once, 32, "CALLDATALOAD", call, 1, "SSTORE",
        "RETURNDATASIZE", 2, "SSTORE", "STOP",
    )  # fmt: skip


def _words(*values: int) -> bytes:
    return b"".join(v.to_bytes(32, "big") for v in values)


def test_storage_gas_and_refunds_match_py_evm(tmp_path: Path, node_config: NodeConfig) -> None:
    """SLOAD and SSTORE cold then warm, every original/current/new combination of EIP-2200
    (with EIP-3529's refunds, one transaction each so no refund cap hides one), the 2300-gas
    sentry at its boundary, SSTORE in a STATICCALL, and a failed call leaving its slots
    cold again for the next."""
    from medledger.node.config import create_address

    admin = admin_account(node_config)
    sender = bytes.fromhex(admin.address[2:])
    storage, caller, viewer = (create_address(sender, n) for n in range(3))
    nonces = iter(range(1000))

    def tx(to: bytes | str, data: bytes = b"", gas: int = 300_000) -> str:
        to = to if isinstance(to, str) else Web3.to_checksum_address(to)
        return sign(admin, node_config, nonce=next(nonces), to=to, data=data, gas=gas)

    read = MAX
    combos = [
        _words(1, 5, 1, 5),  # original 5: unchanged
        _words(2, 0, 2, 5),  # cleared, then restored
        _words(3, 7, 3, 0, 3, 7),  # reset, cleared while dirty, set again
        _words(4, 7, 4, 5),  # back to the original
        _words(10, 3, 10, 0),  # original 0: set, then back to 0
        _words(11, 0, 11, read, 11, read),  # unchanged 0, then warm reads
        _words(12, 3, 12, 4, 12, read),
        _words(20, read, 20, read, 1, read, 1, 9),  # cold read, warm read, warm write
    ]
    raws = [
        tx("", _deployer(STORAGE)),
        tx("", _deployer(_proxy("CALL"))),
        tx("", _deployer(_proxy("STATICCALL"))),
        tx(storage, _words(1, 5, 2, 5, 3, 5, 4, 5)),
        *[tx(storage, combo) for combo in combos],
        # a call that runs out after warming slot 30, then one reading it cold again
        tx(caller, _words(2_300, 50_000) + bytes(12) + storage + _words(30, read, 31, read)),
        tx(viewer, _words(50_000, 50_000) + bytes(12) + storage + _words(1, read)),
        tx(viewer, _words(50_000, 50_000) + bytes(12) + storage + _words(40, 1)),
    ]
    # a no-op SSTORE of a cold slot (2,200 gas) with about 2,300 gas left, gas limits
    # stepping by 1 across the sentry
    intrinsic = 21_000 + 4 * 64
    raws += [tx(storage, _words(41, 0), gas=intrinsic + g) for g in range(2_330, 2_430)]
    revm = _block(tmp_path, node_config, raws, engine="revm")
    reference = _block(tmp_path, node_config, raws, engine="pyevm")
    assert revm == reference
    statuses = [rlp_status(r) for r in revm[1]]
    assert statuses[:15] == [1] * 15
    assert 0 in statuses[15:] and 1 in statuses[15:]


# A py-evm opcode (GASPRICE, 0 here), a jump into one straight segment with memory
# growth, SHA3 words and EXP bytes inside, which runs opcode by opcode when short of gas
# (from the segment's start: re-running the ISZERO after GASPRICE would reach the STOP).
SEGMENT = _assemble(
    1, "GASPRICE", "ISZERO", ("->", "in"), "JUMPI", "STOP", ("@", "in"),
    1, 0x1000, "MSTORE", 0x40, 0x10, "SHA3", MAX, 3, "EXP", "ADD", 7, "MUL", "POP", "STOP",
)  # fmt: skip
SEGMENT_GAS = 21_000 + 22 + 3 * 7 + 3 + 419 + 30 + 6 * 2 + 10 + 50 * 32 + 3 + 5 + 2


def test_failing_frames_fail_as_in_py_evm(tmp_path: Path, node_config: NodeConfig) -> None:
    """Running out of gas anywhere in a segment (gas limits step across its dynamic costs
    and up to the exact total), stack overflow and underflow, a taken jump to a pushed
    invalid destination, copying past the return data, and code ending inside a PUSH."""
    from medledger.node.config import create_address

    admin = admin_account(node_config)
    sender = bytes.fromhex(admin.address[2:])
    programs = [
        SEGMENT,
        _assemble(("@", "top"), "PUSH0", ("->", "top"), "JUMP"),  # pushes until full
        _ops(*range(16), "SWAP16"),
        _ops(1, 3, "JUMPI", "STOP"),
        _ops(1, 0, 0, "RETURNDATACOPY"),
        _ops(1, 2, "ADD", "PUSH0", "SSTORE") + b"\x61\xff",
    ]
    nonces = iter(range(1000))
    raws = [
        sign(admin, node_config, nonce=next(nonces), to="", data=_deployer(p), gas=200_000)
        for p in programs
    ]
    at = [Web3.to_checksum_address(create_address(sender, n)) for n in range(len(programs))]
    limits = [
        *range(SEGMENT_GAS - 2_100, SEGMENT_GAS - 30, 37),
        *range(SEGMENT_GAS - 30, SEGMENT_GAS + 1),
    ]
    raws += [sign(admin, node_config, nonce=next(nonces), to=at[0], gas=g) for g in limits]
    raws += [sign(admin, node_config, nonce=next(nonces), to=a, gas=100_000) for a in at[1:]]
    revm = _block(tmp_path, node_config, raws, engine="revm")
    reference = _block(tmp_path, node_config, raws, engine="pyevm")
    assert revm == reference
    statuses = [rlp_status(r) for r in revm[1]]
    assert statuses[: len(programs)] == [1] * len(programs)
    assert statuses[len(programs) : -5] == [0] * (len(limits) - 1) + [1]
    assert statuses[-5:] == [0, 0, 0, 0, 1]


def _caller(call: str) -> bytes:
    """Calldata (base, gas, target, value, in size, out start, out size, input...): make the
    one `call` with the input at memory 0 and store, from slot `base` on, its success, the
    gas left right after it, RETURNDATASIZE, four words from the output area, the hash of
    the return data and MSIZE."""
    value = [] if call in ("STATICCALL", "DELEGATECALL") else [96, "CALLDATALOAD"]

    def store(n: int) -> list[str | int]:
        return ["PUSH0", "CALLDATALOAD", n, "ADD", "SSTORE"]

    reads: list[str | int] = []
    for i in range(4):
        reads += [160, "CALLDATALOAD", 32 * i, "ADD", "MLOAD", *store(3 + i)]
    return _ops(
        128, "CALLDATALOAD", 224, "PUSH0", "CALLDATACOPY",
        192, "CALLDATALOAD", 160, "CALLDATALOAD", 128, "CALLDATALOAD", "PUSH0",
        *value, 64, "CALLDATALOAD", 32, "CALLDATALOAD", call,
        "GAS", *store(1), *store(0), "RETURNDATASIZE", *store(2),
        *reads,
        "RETURNDATASIZE", "PUSH0", 0x1000, "RETURNDATACOPY",
        "RETURNDATASIZE", 0x1000, "SHA3", *store(7), "MSIZE", *store(8), "STOP",
    )  # fmt: skip


# Calldata (size, write, log, revert, spin): put CALLER, CALLVALUE, ADDRESS and GAS in
# memory; if asked, SSTORE CALLVALUE + 1 in slot 7, LOG2 them, spin until out of gas;
# then REVERT or RETURN the first `size` bytes of memory.
CALLEE = _assemble(
    "CALLER", "PUSH0", "MSTORE", "CALLVALUE", 32, "MSTORE", "ADDRESS", 64, "MSTORE",
    "GAS", 96, "MSTORE",
    32, "CALLDATALOAD", "ISZERO", ("->", "log"), "JUMPI", "CALLVALUE", 1, "ADD", 7, "SSTORE",
    ("@", "log"), 64, "CALLDATALOAD", "ISZERO", ("->", "spin"), "JUMPI",
    "ADDRESS", "CALLER", 64, "PUSH0", "LOG2",
    ("@", "spin"), 128, "CALLDATALOAD", "ISZERO", ("->", "end"), "JUMPI",
    ("@", "loop"), ("->", "loop"), "JUMP",
    ("@", "end"), 96, "CALLDATALOAD", "ISZERO", ("->", "return"), "JUMPI",
    "PUSH0", "CALLDATALOAD", "PUSH0", "REVERT",
    ("@", "return"), "PUSH0", "CALLDATALOAD", "PUSH0", "RETURN",
)  # fmt: skip

# LOG0..LOG4 of growing memory (reading past it grows it), then REVERT if calldata word 0
# is not zero.
LOGGER = _assemble(
    0xAB, 0x20, "MSTORE",
    "PUSH0", "PUSH0", "LOG0", 0x40, 0x10, "LOG0",
    1, 3, 0x21, "LOG1", 2, 1, 33, 0x200, "LOG2",
    3, 2, 1, 0, 0x400, "LOG3", MAX, 4, 3, 2, 1, 0x1F, 0x41, "LOG4",
    "PUSH0", "CALLDATALOAD", "ISZERO", ("->", "end"), "JUMPI", "PUSH0", "PUSH0", "REVERT",
    ("@", "end"), "STOP",
)  # fmt: skip


def _ecrecover_inputs() -> list[bytes]:
    from eth_keys import keys

    key = keys.PrivateKey(bytes(range(1, 33)))
    digest = bytes(range(100, 132))
    sig = key.sign_msg_hash(digest)
    v, r, s = sig.v + 27, sig.r, sig.s
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    good = digest + _words(v, r, s)
    return [
        good,
        digest + _words(v + 2, r, s),  # v not 27/28
        digest + _words(v, r, n),  # s out of range
        digest + _words(v, r, n - 1),  # s high but in range
        digest + _words(v, 0, s),  # r zero
        good[:100],  # short: s read zero-padded
        b"",
        good + b"extra",
    ]


def test_message_calls_and_logs_match_py_evm(tmp_path: Path, node_config: NodeConfig) -> None:
    """CALL, CALLCODE, DELEGATECALL and STATICCALL with and without value, to contracts,
    to empty and non-existent accounts and to ecrecover (good and bad input), cold then
    warm, with return data bigger and smaller than the output area, a callee that reverts
    with data, one that runs out of gas, one that writes or logs under STATICCALL, value
    beyond the balance, and LOG0..LOG4 in successful and reverted frames."""
    from medledger.node.config import create_address

    admin = admin_account(node_config)
    sender = bytes.fromhex(admin.address[2:])
    kinds = ["CALL", "CALLCODE", "DELEGATECALL", "STATICCALL"]
    programs = [_caller(kind) for kind in kinds] + [CALLEE, LOGGER]
    at = [create_address(sender, n) for n in range(len(programs))]
    callers, callee, logger = dict(zip(kinds, at, strict=False)), at[4], at[5]
    nonces = iter(range(10_000))

    def tx(to: bytes, data: bytes = b"", gas: int = 200_000, value: int = 0) -> str:
        return sign(
            admin, node_config, nonce=next(nonces), to=Web3.to_checksum_address(to) if to else "",
            data=data, gas=gas, value=value,
        )  # fmt: skip

    bases = iter(range(0, 10_000, 16))

    def call(
        kind: str,
        target: bytes,
        payload: bytes = b"",
        *,
        gas: int = MAX,
        value: int = 0,
        out: tuple[int, int] = (0x100, 64),
        tx_gas: int = 1_000_000,
    ) -> str:
        words = _words(next(bases), gas, int.from_bytes(target, "big"), value, len(payload))
        return tx(callers[kind], words + _words(*out) + payload, gas=tx_gas)

    def to_callee(size: int, write: int = 0, log: int = 0, revert: int = 0, spin: int = 0):
        return _words(size, write, log, revert, spin)

    nobody, empty = bytes([0xEE] * 20), bytes([0xDD] * 20)
    ecrecover = (1).to_bytes(20, "big")
    deploys = [tx(b"", _long_deployer(p)) for p in programs]
    raws = [
        *deploys,
        tx(callers["CALL"], b"", value=10**6),  # funds the CALL caller (its code no-ops)
        tx(callers["CALLCODE"], b"", value=10**6),
        sign(
            admin,
            node_config,
            nonce=next(nonces),
            to=Web3.to_checksum_address(empty),
            gas=21_000,
            value=0,
        ),  # fmt: skip
        tx(logger, _words(0)),
        tx(logger, _words(1)),  # reverted: no logs
    ]
    for kind in kinds:
        raws += [
            call(kind, callee, to_callee(128)),  # returns more than the output area
            call(kind, callee, to_callee(40), out=(0x20, 200)),  # less than it
            call(kind, callee, to_callee(0), out=(0, 0)),
            call(kind, callee, to_callee(64, write=1, log=1)),  # a write, a log
            call(kind, callee, to_callee(40, log=1, revert=1)),  # reverts with data
            call(kind, callee, to_callee(40, spin=1), gas=50_000),  # out of gas
            call(kind, logger, _words(0)),
            call(kind, logger, _words(1)),  # logs in a reverted frame
            call(kind, nobody),
            call(kind, empty, gas=0),
            call(kind, callee, to_callee(32), gas=5),  # too little for the callee's first step
            *[call(kind, ecrecover, data, out=(0x40, 32)) for data in _ecrecover_inputs()],
            call(kind, ecrecover, _ecrecover_inputs()[0], gas=2_999, out=(0x40, 32)),
        ]
    for kind in ("CALL", "CALLCODE"):
        raws += [
            call(kind, callee, to_callee(96, write=1), value=7),  # the stipend
            call(kind, nobody, value=1),  # creates an account: the new-account fee
            call(kind, bytes([0xEC] * 20), value=1, gas=0),
            call(kind, empty, value=1),
            call(kind, callee, to_callee(32), value=10**9),  # more than the balance
        ]
    # out of gas on the value fee, the new-account fee and the cold account load
    raws += [call("CALL", bytes([0xEB] * 20), value=1, tx_gas=g) for g in (40_000, 45_000)]
    alloc = ((sender, 10**18),)
    revm = _block(tmp_path, node_config, raws, engine="revm", alloc=alloc)
    reference = _block(tmp_path, node_config, raws, engine="pyevm", alloc=alloc)
    assert revm == reference
    assert revm[2] == 0
    statuses = [rlp_status(r) for r in revm[1]]
    assert statuses[: len(deploys) + 5] == [1] * (len(deploys) + 4) + [0]
    assert 0 in statuses[len(deploys) + 5 :]
    logs = [len(rlp.decode(r)[3]) for r in revm[1]]
    assert logs[len(deploys) + 3 : len(deploys) + 5] == [6, 0]
    assert logs.count(6) == 1 + 3 and logs.count(1) > 0


# CALL the address in calldata word 1 with the gas in word 0 and no memory, then STOP.
CALL_ONLY = _ops(
    "PUSH0", "PUSH0", "PUSH0", "PUSH0", "PUSH0", 32, "CALLDATALOAD", "PUSH0", "CALLDATALOAD",
    "CALL", "STOP",
)  # fmt: skip
CAP_START = 85_020  # a transaction gas limit below where the 63/64 cap stops binding


def test_the_63_64_cap_matches_py_evm_at_its_boundary(
    tmp_path: Path, node_config: NodeConfig
) -> None:
    """A callee that burns all its gas, given 60,000 or all but 1/64 of what is left,
    whichever is less, with transaction gas limits stepping by 1 across the point where
    the cap stops binding: the gas used grows with the limit, then stays flat."""
    from medledger.node.config import create_address

    admin = admin_account(node_config)
    sender = bytes.fromhex(admin.address[2:])
    caller, callee = (Web3.to_checksum_address(create_address(sender, n)) for n in range(2))
    nonces = iter(range(1000))
    raws = [
        sign(admin, node_config, nonce=next(nonces), to="", data=_deployer(p), gas=200_000)
        for p in (CALL_ONLY, _assemble(("@", "spin"), ("->", "spin"), "JUMP"))
    ]
    data = _words(60_000, int(callee, 16))
    limits = range(CAP_START, CAP_START + 100)
    raws += [
        sign(admin, node_config, nonce=next(nonces), to=caller, data=data, gas=g) for g in limits
    ]
    revm = _block(tmp_path, node_config, raws, engine="revm")
    reference = _block(tmp_path, node_config, raws, engine="pyevm")
    assert revm == reference
    cumulative = [int.from_bytes(rlp.decode(r)[1], "big") for r in revm[1]]
    used = [b - a for a, b in zip(cumulative[1:], cumulative[2:], strict=False)]
    assert used[0] < used[-1] and used[-2] == used[-1]


def _logged_words(receipt: bytes) -> list[int]:
    """The data of each log in an encoded receipt, as an int."""
    return [int.from_bytes(log[2], "big") for log in rlp.decode(receipt)[3]]


def test_storage_reads_after_reverted_writes_and_refunds_across_frames(
    tmp_path: Path, node_config: NodeConfig
) -> None:
    """A child frame reads a slot, writes it and runs out of gas; a second child then reads
    the slot again (it must see the value from before the reverted write), and writes it for
    good. Slots cleared in a frame that then fails earn no refund; cleared in one that
    succeeds, they do. A slot written by one transaction is read by the next."""
    from medledger.node.config import create_address

    admin = admin_account(node_config)
    sender = bytes.fromhex(admin.address[2:])
    storage, caller = (create_address(sender, n) for n in range(2))
    nonces = iter(range(1000))

    def tx(to: bytes | str, data: bytes = b"", gas_price: int = 0) -> str:
        to = to if isinstance(to, str) else Web3.to_checksum_address(to)
        return sign(admin, node_config, nonce=next(nonces), to=to, data=data, gas=300_000,
                    gasPrice=gas_price)  # fmt: skip

    read = MAX
    target = bytes(12) + storage
    raws = [
        tx("", _deployer(STORAGE)),
        tx("", _deployer(_proxy("CALL"))),
        tx(storage, _words(40, 1, 41, 1)),
        # 30_000 gas: reads 30, sets it, runs out on the cold write of 31
        tx(caller, _words(30_000, 100_000) + target + _words(30, read, 30, 7, 31, 5, 30, read)),
        tx(storage, _words(30, read, 31, read)),
        # the first frame clears 40 and runs out before clearing 41; the second clears both
        # (paying for gas, so the refund shows in the sender's balance too)
        tx(caller, _words(7_000, 100_000) + target + _words(40, 0, 41, 0), gas_price=3),
        tx(storage, _words(40, read, 41, 2, 41, read, 41, 0, 41, read), gas_price=2),
    ]
    alloc = ((sender, 10**18),)
    revm = _block(tmp_path, node_config, raws, engine="revm", alloc=alloc)
    reference = _block(tmp_path, node_config, raws, engine="pyevm", alloc=alloc)
    assert revm == reference
    receipts = revm[1]
    assert [rlp_status(r) for r in receipts] == [1] * len(raws)
    # the first frame's log of slot 30 is gone with it; the second read 0, then 7
    assert _logged_words(receipts[3]) == [0, 7]
    assert _logged_words(receipts[4]) == [7, 5]
    assert _logged_words(receipts[6]) == [0, 2, 0]


def test_gas_prices_value_transfers_and_empty_accounts_match_py_evm(
    tmp_path: Path, node_config: NodeConfig
) -> None:
    """Free and paid gas (the coinbase starts empty, then earns fees), value to accounts
    that do not exist, a zero-value transfer to one (touched and empty: not created), a
    transfer of everything a fresh account holds back to its funder, and a contract call
    that pays for gas and sends value."""
    from medledger.node.config import create_address

    admin = admin_account(node_config)
    sender = bytes.fromhex(admin.address[2:])
    payer = Account.create()
    storage = Web3.to_checksum_address(create_address(sender, 0))
    fresh = [Web3.to_checksum_address(bytes([0xC0 + n] * 20)) for n in range(4)]
    admins = iter(range(1000))
    payers = iter(range(1000))

    def by_admin(**fields: object) -> str:
        return sign(admin, node_config, nonce=next(admins), **fields)

    def by_payer(**fields: object) -> str:
        return sign(payer, node_config, nonce=next(payers), **fields)

    raws = [
        by_admin(to="", data=_deployer(STORAGE), gas=300_000),
        by_admin(to=fresh[0], gas=21_000),  # zero value, free gas: fresh[0] is not created
        by_admin(to=fresh[1], gas=21_000, value=5),
        by_admin(to=payer.address, gas=21_000, value=0),
        by_payer(to=fresh[0], gas=21_000, gasPrice=0),
        by_payer(to=fresh[2], gas=21_000, gasPrice=3, value=1),
        by_payer(to=storage, data=_words(50, 9), gas=100_000, gasPrice=7),
        by_payer(to=storage, data=_words(50, 0), gas=100_000, gasPrice=1),  # a refund, paid
        by_payer(to=fresh[3], gas=21_000, gasPrice=0, value=0),
        by_admin(to=payer.address, gas=21_000, gasPrice=2, value=10**6),
        by_admin(to=Web3.to_checksum_address(bytes(20)), gas=21_000),  # to the coinbase
        by_payer(
            to="",
            data=_deployer(_ops("CALLER", "PUSH0", "SSTORE")),
            gas=99_000,
            gasPrice=4,
            value=8,
        ),  # a paid creation with value
    ]
    alloc = ((bytes.fromhex(payer.address[2:]), 10**18), (sender, 10**18))
    revm = _block(tmp_path, node_config, raws, engine="revm", alloc=alloc)
    reference = _block(tmp_path, node_config, raws, engine="pyevm", alloc=alloc)
    assert revm == reference
    assert [rlp_status(r) for r in revm[1]] == [1] * len(raws)
    assert revm[2] == 0


@pytest.mark.filterwarnings("ignore:SELFDESTRUCT opcode present:DeprecationWarning")
def test_self_destructs_and_touched_accounts_match_py_evm(
    tmp_path: Path, node_config: NodeConfig
) -> None:
    """SELFDESTRUCT to accounts that do not exist, with and without a balance to pass on
    (an empty beneficiary is touched and cleared), inside a frame that reverts (nothing is
    touched, but for EIP-716's RIPEMD-160), and in the transaction that created the
    contract (the contract is deleted)."""
    from medledger.node.config import create_address

    admin = admin_account(node_config)
    sender = bytes.fromhex(admin.address[2:])
    destroyer, reverter = (create_address(sender, n) for n in range(2))
    nonces = iter(range(1000))

    def tx(to: bytes, data: bytes = b"", value: int = 0) -> str:
        address = Web3.to_checksum_address(to) if to else ""
        return sign(admin, node_config, nonce=next(nonces), to=address, data=data,
                    gas=300_000, value=value)  # fmt: skip

    def beneficiary(n: int) -> bytes:
        return _words(int.from_bytes(bytes([0xB0 + n] * 20), "big"))

    ripemd = _words(3)
    call_then_revert = _ops(
        "CALLDATASIZE", "PUSH0", "PUSH0", "CALLDATACOPY",
        "PUSH0", "PUSH0", "CALLDATASIZE", "PUSH0", "PUSH0",
        int.from_bytes(destroyer, "big"), "GAS", "CALL", "PUSH0", "PUSH0", "REVERT",
    )  # fmt: skip
    raws = [
        tx(b"", _deployer(_ops("PUSH0", "CALLDATALOAD") + b"\xff")),
        tx(b"", _deployer(call_then_revert)),
        tx(destroyer, beneficiary(0)),  # nothing to pass on: the beneficiary is cleared
        tx(destroyer, beneficiary(1), value=5),
        tx(destroyer, beneficiary(1), value=6),  # to an existing beneficiary
        tx(reverter, beneficiary(2)),
        tx(reverter, ripemd),
        tx(destroyer, ripemd, value=1),
        tx(b"", _ops(int.from_bytes(bytes([0xB3] * 20), "big")) + b"\xff", value=3),
        tx(b"", _ops(int.from_bytes(bytes([0xB4] * 20), "big")) + b"\xff"),
    ]
    alloc = ((sender, 10**18),)
    revm = _block(tmp_path, node_config, raws, engine="revm", alloc=alloc)
    reference = _block(tmp_path, node_config, raws, engine="pyevm", alloc=alloc)
    assert revm == reference
    assert [rlp_status(r) for r in revm[1]] == [1] * 5 + [0, 0] + [1] * 3
