"""revm (`node.engine_revm`) executes blocks exactly as py-evm (`node.engine_pyevm`, the
reference) does: the same transactions included, the same receipts (status, gas,
cumulative gas, logs, bloom), the same write set and the same state and receipts roots.

Two kinds of blocks: hand-made ones on a fresh genesis (reverts, out of gas, value
transfers, creation, self-destruct, precompiles, refunds, transient storage, the calldata
floor, fees at a non-zero price, invalid and deferred transactions), and a whole MedLedger
chain (deployment, members, commission, pallets, ship, receive, dispense, recall, lots)
built by a node, replayed block by block through both engines and checked against its
headers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth.vm.forks.prague.blocks import PragueBlock
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import Web3

from medledger.node import evm, evm_reads
from medledger.node.chain import genesis_spec
from medledger.node.client import RpcClient
from medledger.node.config import NodeConfig, create_address
from medledger.node.engine import (
    BlockEnv,
    BlockResult,
    Transaction,
    TrieState,
    UnsupportedByEngine,
    receipts_root,
    transactions_root,
    write_preimages,
)
from medledger.node.engine_pyevm import PyEvmExecutor
from medledger.node.engine_revm import RevmExecutor, genesis_preimages, opcodes_in
from medledger.node.revm_journal import loaded_state
from medledger.node.store import LmdbStore, WriteBuffer
from medledger.sdk.compiler import load_artifacts
from tests.node.conftest import admin_account, run_lifecycle, sign, spawn_node

COINBASE = bytes.fromhex("cb" * 20)
RICH = 10**21


def asm(*parts: int | bytes) -> bytes:
    """Bytecode from opcodes (ints) and PUSH data (bytes after a PUSH opcode)."""
    return b"".join(bytes([p]) if isinstance(p, int) else p for p in parts)


# opcodes used below
STOP, SUB, KECCAK256, CALLER, CALLDATALOAD, CALLDATASIZE, CALLDATACOPY = (
    0x00, 0x03, 0x20, 0x33, 0x35, 0x36, 0x37,
)  # fmt: skip
RETURNDATASIZE, RETURNDATACOPY, NUMBER, SLOAD, SSTORE, GAS, PUSH1 = (
    0x3D, 0x3E, 0x43, 0x54, 0x55, 0x5A, 0x60,
)  # fmt: skip
TLOAD, TSTORE, DUP1, DUP3, STATICCALL, SELFDESTRUCT, BLOCKHASH = (
    0x5C, 0x5D, 0x80, 0x82, 0xFA, 0xFF, 0x40,
)  # fmt: skip


def p1(value: int) -> bytes:
    return bytes([PUSH1, value])


# calldata = target address (32 bytes) || input: STATICCALL it, then store the success
# flag in slot 1, the output's size in slot 2 and its keccak in slot 0.
PROBE = asm(
    p1(0x20), CALLDATASIZE, SUB, DUP1, p1(0x20), p1(0), CALLDATACOPY,
    p1(0), p1(0), DUP3, p1(0), p1(0), CALLDATALOAD, GAS, STATICCALL, p1(1), SSTORE,
    RETURNDATASIZE, p1(0), p1(0), RETURNDATACOPY,
    RETURNDATASIZE, p1(0), KECCAK256, p1(0), SSTORE, RETURNDATASIZE, p1(2), SSTORE, STOP,
)  # fmt: skip
# Slot 0 cleared (a refund), slot 1 set and cleared again in the same transaction.
CLEARER = asm(p1(0), p1(0), SSTORE, p1(1), p1(1), SSTORE, p1(0), p1(1), SSTORE, STOP)
# Stores the transient slot it finds (0 if transient storage is per transaction), then sets it.
TRANSIENT = asm(p1(0), TLOAD, p1(1), SSTORE, p1(7), p1(0), TSTORE, STOP)
BOMB = asm(CALLER, SELFDESTRUCT)
READS_BLOCKHASH = asm(p1(1), NUMBER, SUB, BLOCKHASH, p1(0), SSTORE, STOP)


def deployer(runtime: bytes, *, constructor: bytes = b"") -> bytes:
    """Initcode running `constructor`, then returning `runtime`."""
    tail_at = len(constructor) + 12
    copy = asm(0x61, len(runtime).to_bytes(2, "big"), DUP1, p1(tail_at), p1(0), 0x39, p1(0), 0xF3)
    assert len(copy) == 12
    return constructor + copy + runtime


@dataclass
class _Side:
    store: LmdbStore
    buffer: WriteBuffer


class Pair:
    """Both engines, each on its own store from the same genesis, fed the same blocks;
    `block` checks they agree and returns (reference, revm) results."""

    def __init__(
        self, tmp_path: Path, config: NodeConfig, *, alloc: tuple[tuple[bytes, int], ...] = ()
    ) -> None:
        self.config = config
        spec = genesis_spec(config, alloc=alloc)
        self.sides: dict[str, _Side] = {}
        for name in ("reference", "revm"):
            store = LmdbStore(tmp_path / name)
            buffer = store.write_buffer()
            genesis, _ = evm.init_genesis(buffer, spec)
            self.sides[name] = _Side(store, buffer)
        self.parent_hash: bytes = genesis
        write_preimages(self.sides["revm"].buffer, genesis_preimages(spec))
        header: Any = evm_reads.header_by_hash(self.sides["reference"].buffer, genesis)
        self.root, self.number, self.timestamp = header.state_root, 0, header.timestamp
        self.reference, self.revm = PyEvmExecutor(), RevmExecutor()

    def close(self) -> None:
        for side in self.sides.values():
            side.buffer.close()
            side.store.close()

    def env(self, coinbase: bytes = COINBASE) -> BlockEnv:
        return BlockEnv(
            number=self.number + 1,
            parent_hash=self.parent_hash,
            coinbase=coinbase,
            timestamp=self.timestamp + 12,
            gas_limit=self.config.block_gas_limit,
            chain_id=self.config.chain_id,
        )

    def block(
        self, raws: list[str], *, env: BlockEnv | None = None
    ) -> tuple[BlockResult, BlockResult]:
        env = env or self.env()
        txs = [Transaction.of(evm.decode_transaction(bytes.fromhex(r[2:]))) for r in raws]
        ref_side, revm_side = self.sides["reference"], self.sides["revm"]
        ref = self.reference.execute_block(TrieState(ref_side.buffer, self.root), env, txs)
        ref_root = self.reference.commit(ref_side.buffer, self.root, ref)
        got = self.revm.execute_block(TrieState(revm_side.buffer, self.root), env, txs)
        got_root = self.revm.commit(revm_side.buffer, self.root, got)
        assert_same(ref, got)
        header = self.reference.last_header
        assert got_root == ref_root == header.state_root
        assert receipts_root(got.receipts) == header.receipt_root
        assert got.gas_used == header.gas_used and got.bloom == header.bloom
        self.parent_hash, self.root = header.hash, ref_root
        self.number, self.timestamp = env.number, env.timestamp
        return ref, got


def assert_same(ref: BlockResult, got: BlockResult) -> None:
    assert [t.hash for t in got.transactions] == [t.hash for t in ref.transactions]
    assert [t.hash for t, _ in got.dropped] == [t.hash for t, _ in ref.dropped]
    assert [t.hash for t in got.deferred] == [t.hash for t in ref.deferred]
    for index, (expected, actual) in enumerate(zip(ref.receipts, got.receipts, strict=True)):
        assert actual == expected, f"receipt {index}"
    assert dict(got.state_changes.accounts) == dict(ref.state_changes.accounts)
    assert dict(got.state_changes.codes) == dict(ref.state_changes.codes)
    assert (got.gas_used, got.bloom) == (ref.gas_used, ref.bloom)


@pytest.fixture
def admin(node_config: NodeConfig) -> LocalAccount:
    return admin_account(node_config)


@pytest.fixture
def pair(tmp_path: Path, node_config: NodeConfig, admin: LocalAccount) -> Iterator[Pair]:
    payer = Account.from_key(keccak(text="engine test payer"))
    alloc = ((bytes.fromhex(admin.address[2:]), RICH), (bytes.fromhex(payer.address[2:]), RICH))
    made = Pair(tmp_path, node_config, alloc=alloc)
    yield made
    made.close()


def _address(sender: LocalAccount, nonce: int) -> str:
    return to_checksum_address(create_address(bytes.fromhex(sender.address[2:]), nonce))


def test_admissions_reverts_out_of_gas_transfers_and_a_stale_nonce(
    pair: Pair, node_config: NodeConfig, admin: LocalAccount
) -> None:
    partners = Web3().eth.contract(
        address=Web3.to_checksum_address(node_config.contract_address("Partners")),
        abi=load_artifacts()["Partners"].abi,
    )
    member = Account.create().address
    admit = partners.encode_abi("admit", [member, 1, "Regulator"])
    fresh = Account.create().address
    ref, got = pair.block(
        [
            sign(admin, node_config, nonce=0, to=partners.address, data=admit, gas=400_000),
            sign(admin, node_config, nonce=1, to=partners.address, data=admit, gas=400_000),
            sign(admin, node_config, nonce=2, to=partners.address, data=admit, gas=30_000),
            sign(admin, node_config, nonce=3, to=fresh, value=12_345, gas=21_000),
            sign(admin, node_config, nonce=4, to=fresh, value=0, gas=21_000),
            sign(admin, node_config, nonce=0, to=fresh, gas=21_000),  # stale: dropped
        ]
    )
    assert [r.success for r in got.receipts] == [True, False, False, True, True]
    assert len(got.dropped) == 1 and got.receipts[0].logs


def test_creation_self_destruct_refunds_and_transient_storage(
    pair: Pair, node_config: NodeConfig, admin: LocalAccount
) -> None:
    bomb, clearer, transient = _address(admin, 0), _address(admin, 1), _address(admin, 2)
    pair.block(
        [
            sign(admin, node_config, nonce=0, to="", data=deployer(BOMB), value=50, gas=200_000),
            sign(
                admin,
                node_config,
                nonce=1,
                to="",
                data=deployer(CLEARER, constructor=asm(p1(1), p1(0), SSTORE)),
                gas=200_000,
            ),
            sign(admin, node_config, nonce=2, to="", data=deployer(TRANSIENT), gas=200_000),
            # made and destroyed in one transaction: no account is left
            sign(admin, node_config, nonce=3, to="", data=BOMB, value=7, gas=100_000),
        ]
    )
    ref, got = pair.block(
        [
            # a contract made earlier only hands over its balance (EIP-6780)
            sign(admin, node_config, nonce=4, to=bomb, gas=100_000),
            sign(admin, node_config, nonce=5, to=clearer, gas=100_000),
            sign(admin, node_config, nonce=6, to=transient, gas=100_000),
            sign(admin, node_config, nonce=7, to=transient, gas=100_000),
        ]
    )
    assert all(r.success for r in got.receipts)
    assert got.receipts[1].gas_used < 40_000  # about 48,200 before the capped refund


def test_the_node_evm_edge_cases_jumps_and_recursion_to_the_depth_limit(
    pair: Pair, node_config: NodeConfig, admin: LocalAccount
) -> None:
    bad_jump = bytes.fromhex("600456605b00")  # PUSH1 4, JUMP into PUSH1's data byte 0x5b
    good_jump = bytes.fromhex("600456005b00")  # PUSH1 4, JUMP to a JUMPDEST, STOP
    recurse = bytes.fromhex("60006000600060006000305af100")  # CALL itself with all gas
    codes = (bad_jump, good_jump, recurse)
    raws = [
        sign(admin, node_config, nonce=i, to="", data=deployer(code), gas=100_000)
        for i, code in enumerate(codes)
    ]
    pair.block(raws)
    ref, got = pair.block(
        [
            sign(admin, node_config, nonce=3 + i, to=_address(admin, i), gas=gas)
            for i, gas in enumerate((50_000, 50_000, 30_000_000))
        ]
    )
    assert [r.success for r in got.receipts] == [False, True, True]


def test_precompiles_ecrecover_sha256_identity_and_modexp(
    pair: Pair, node_config: NodeConfig, admin: LocalAccount
) -> None:
    probe = _address(admin, 0)
    message = keccak(text="medledger")
    signed = Account.from_key(keccak(text="signer")).unsafe_sign_hash(message)
    ecrecover_input = (
        message + signed.v.to_bytes(32, "big") + signed.r.to_bytes(32, "big")
    ) + signed.s.to_bytes(32, "big")
    modexp_input = (1).to_bytes(32, "big") * 3 + bytes([3, 5, 7])
    calls = [(1, ecrecover_input), (2, b"abc"), (4, b"echo"), (5, modexp_input), (1, b"bad")]
    raws = [sign(admin, node_config, nonce=0, to="", data=deployer(PROBE), gas=200_000)]
    for nonce, (precompile, data) in enumerate(calls, start=1):
        target = precompile.to_bytes(32, "big")
        raws.append(
            sign(admin, node_config, nonce=nonce, to=probe, data=target + data, gas=200_000)
        )
    ref, got = pair.block(raws)
    assert all(r.success for r in got.receipts)


def test_fees_at_a_non_zero_price_and_the_calldata_floor(
    pair: Pair, node_config: NodeConfig, admin: LocalAccount
) -> None:
    payer = Account.from_key(keccak(text="engine test payer"))
    to = Account.create().address
    dynamic: dict[str, Any] = {
        "type": 2,
        "chainId": node_config.chain_id,
        "nonce": 1,
        "to": to,
        "value": 3,
        "gas": 30_000,
        "maxFeePerGas": 9,
        "maxPriorityFeePerGas": 4,
        "data": b"",
    }
    ref, got = pair.block(
        [
            sign(payer, node_config, nonce=0, to=to, value=1, gasPrice=7, gas=50_000),
            "0x" + bytes(payer.sign_transaction(dynamic).raw_transaction).hex(),
            # 1000 non-zero bytes to an account: the EIP-7623 floor is above the cost
            sign(payer, node_config, nonce=2, to=to, data=b"\x01" * 1000, gas=70_000),
            # cannot pay for its gas: dropped
            sign(Account.create(), node_config, nonce=0, to=to, gasPrice=1, gas=21_000),
        ]
    )
    assert got.receipts[2].gas_used == 21_000 + 10 * 4 * 1000
    assert len(got.dropped) == 1


def test_transactions_over_the_block_gas_are_deferred(
    pair: Pair, node_config: NodeConfig, admin: LocalAccount
) -> None:
    from dataclasses import replace

    to = Account.create().address
    raws = [sign(admin, node_config, nonce=i, to=to, gas=21_000) for i in range(3)]
    ref, got = pair.block(raws, env=replace(pair.env(), gas_limit=50_000))
    assert len(got.transactions) == 2 and len(got.deferred) == 1


def test_the_cache_follows_consecutive_blocks_and_starts_again_on_another_parent(
    pair: Pair, node_config: NodeConfig, admin: LocalAccount
) -> None:
    clearer = _address(admin, 0)
    setter = deployer(CLEARER, constructor=asm(p1(1), p1(0), SSTORE))
    pair.block([sign(admin, node_config, nonce=0, to="", data=setter, gas=200_000)])
    branch_root, branch_hash, number = pair.root, pair.parent_hash, pair.number
    pair.block([sign(admin, node_config, nonce=1, to=clearer, gas=100_000)])
    pair.block([sign(admin, node_config, nonce=2, to=clearer, gas=100_000)])
    # another block on the first block's state: the revm cache (two blocks on) is dropped
    pair.root, pair.parent_hash, pair.number = branch_root, branch_hash, number
    ref, got = pair.block([sign(admin, node_config, nonce=1, to=clearer, gas=100_000)])
    assert got.receipts[0].gas_used == ref.receipts[0].gas_used


def test_what_revm_cannot_run_as_py_evm_does_is_refused(
    pair: Pair, node_config: NodeConfig, admin: LocalAccount
) -> None:
    partners = node_config.contract_address("Partners")
    listed: dict[str, Any] = {
        "type": 1,
        "chainId": node_config.chain_id,
        "nonce": 0,
        "to": partners,
        "gas": 100_000,
        "gasPrice": 0,
        "accessList": [{"address": partners, "storageKeys": ["0x" + "00" * 32]}],
    }
    pair.block([sign(admin, node_config, nonce=0, to="", data=deployer(READS_BLOCKHASH))])
    reader = _address(admin, 0)
    listed["nonce"] = 1
    state = TrieState(pair.sides["revm"].buffer, pair.root)
    then = Transaction.of(
        evm.decode_transaction(bytes.fromhex(sign(admin, node_config, nonce=1)[2:]))
    )
    alone = RevmExecutor().execute_block(state, pair.env(), [then])
    for raw in (
        # BLOCKHASH run (pyrevm answers it with the keccak of the number's digits), at a
        # price: the sender's gas was bought before it ran
        sign(admin, node_config, nonce=1, to=reader, gas=100_000, gasPrice=1),
        # an access list (revm would keep the listed accounts warm for later transactions)
        "0x" + bytes(admin.sign_transaction(listed).raw_transaction).hex(),
    ):
        tx = Transaction.of(evm.decode_transaction(bytes.fromhex(raw[2:])))
        with pytest.raises(UnsupportedByEngine):
            RevmExecutor().execute_block(state, pair.env(), [tx], strict=True)
        # building a block, it is dropped with the reason and leaves no trace
        built = RevmExecutor().execute_block(state, pair.env(), [tx, then])
        assert [(t.hash, type(r)) for t, r in built.dropped] == [(tx.hash, str)]
        assert [t.hash for t in built.transactions] == [then.hash]
        assert built.state_changes == alone.state_changes
        assert built.receipts == alone.receipts


def test_the_journal_is_read_as_pyrevm_0_3_7_writes_it() -> None:
    import pyrevm

    vm = pyrevm.EVM(spec_id="Cancun")
    sender, made = "0x" + "22" * 20, create_address(bytes.fromhex("22" * 20), 5)
    vm.insert_account_info(sender, pyrevm.AccountInfo(balance=10**18, nonce=5))  # type: ignore[call-arg]
    checkpoint = vm.snapshot()
    vm.deploy(sender, deployer(BOMB, constructor=asm(p1(9), p1(3), SSTORE)), gas=200_000)
    state = loaded_state(vm.journal_str)
    vm.revert(checkpoint)
    assert state[made].storage == {3: (0, 9)}
    assert state[made].created and state[made].touched and state[made].nonce == 1
    assert state[made].code() == BOMB and state[made].code_hash == keccak(BOMB)
    assert state[bytes.fromhex("22" * 20)].nonce == 6
    assert opcodes_in(asm(0x61, bytes([BLOCKHASH, 0]), STOP)) == {0x61, STOP}


# -- a MedLedger chain, made by a node on MEDLEDGER_NODE_ENGINE (revm by default) ------


@pytest.fixture(scope="module")
def medledger_chain(
    tmp_path_factory: pytest.TempPathFactory, genesis_file: Path, node_config: NodeConfig
) -> Iterator[list[bytes]]:
    """The raw blocks of a node that ran the whole lifecycle, lots included (executed by
    the engine of `node_config`: revm unless MEDLEDGER_NODE_ENGINE says otherwise)."""
    node = spawn_node(tmp_path_factory.mktemp("engine") / "node", genesis_file)
    try:
        run_lifecycle(node.url, node_config)
        client = RpcClient(node.url)
        head = int(client.call("eth_blockNumber"), 16)
        blocks = [
            bytes.fromhex(client.call("debug_getRawBlock", hex(n))[2:]) for n in range(1, head + 1)
        ]
        client.close()
    finally:
        node.stop()
    yield blocks


def test_a_medledger_chain_replays_identically_on_both_engines(
    medledger_chain: list[bytes], tmp_path: Path, node_config: NodeConfig
) -> None:
    pair = Pair(tmp_path, node_config)
    try:
        failures = 0
        for raw in medledger_chain:
            published: Any = rlp.decode(raw, sedes=PragueBlock)
            header = published.header
            assert header.parent_hash == pair.parent_hash
            env = BlockEnv.of_header(header, chain_id=node_config.chain_id)
            decoded = [evm.check_transaction(tx, tx.encode()) for tx in published.transactions]
            ref, got = pair.block(["0x" + d.raw.hex() for d in decoded], env=env)
            assert pair.parent_hash == header.hash  # py-evm rebuilt the published block
            assert transactions_root([d.raw for d in decoded]) == header.transaction_root
            assert len(got.transactions) == len(decoded)
            failures += sum(not r.success for r in got.receipts)
        assert failures >= 2 and len(medledger_chain) > 20
    finally:
        pair.close()
