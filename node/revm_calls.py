"""eth_call and eth_estimateGas on revm (pyrevm 0.3.7), on the state of a block.

pyrevm's only database is an in-memory cache over an empty backend (`node.engine_revm`
explains it). A call loads lazily and runs again: each run starts a fresh `EVM` holding
what is known of the state so far; afterwards the cache, printed (`str(evm)`), shows every
account and slot revm asked it for, even inside frames that reverted. What it asked for and
was not given is read from our tries; if any of it exists (an account) or is not zero (a
slot), the run saw a wrong value and is made again. A fresh `EVM` per run, because revm's
cache remembers an account it was asked for and did not have as non-existent, and then
answers zero for its slots without recording them.

What is read is kept per state root (`HEADS` roots), so calls at the same head share it.

Left to py-evm (`UnsupportedByEngine`, which `node.rpc` answers by running the message on
py-evm): a creation (no `to`), a gas limit below the EIP-7623 floor, a message revm refuses
before running it (value above the balance, gas below the intrinsic gas), a call that
reached a BLS12-381 precompile (0x0b-0x11: revm 8 runs Cancun) or executed BLOCKHASH.

The time budget cannot interrupt revm once it runs: a message whose gas could keep revm
busy longer than the budget (`REVM_GAS_PER_SECOND`) goes to py-evm, whose runs look at the
clock; the deadline is looked at before each run, so an estimate overruns its budget by at
most one run. With the defaults (30 M gas, 3 s) every call runs on revm.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import pyrevm

from medledger.node.calls import CallResult, TimeBudgetExceeded, estimate
from medledger.node.engine import (
    EMPTY_CODE_HASH,
    StateReader,
    TrieState,
    UnsupportedByEngine,
    calldata_floor,
    use_native_keccak,
)
from medledger.node.engine_revm import REVM_SPEC

__all__ = ["HEADS", "REVM_GAS_PER_SECOND", "RevmCalls"]

HEADS = 4  # state roots whose reads are kept
# Gas revm surely runs per second, for the time budget it cannot interrupt (its slowest
# opcodes and precompiles stay above this on the shared 2-core machine; simple loops run
# at several hundred million gas per second).
REVM_GAS_PER_SECOND = 20_000_000
MAX_RUNS = 64  # runs of one message while it keeps discovering state
_BLS_PRECOMPILES = frozenset(i.to_bytes(20, "big") for i in range(0x0B, 0x12))
_AccountInfo: Any = pyrevm.AccountInfo
_Info = tuple[int, int, bytes]  # nonce, balance, code hash

_CACHE = "db: Memory(CacheDB { accounts: {"
_CACHE_END = "}, contracts: {"
_DB_ACCOUNT = re.compile(r"0x([0-9a-f]{40}): DbAccount \{ info: ")
_STORAGE = re.compile(r"account_state: \w+, storage: \{([^}]*)\} \}")
_SLOT = re.compile(r"(\d+): \d+")
_REVERT_OUTPUT = re.compile(r"output: 0x([0-9a-f]*)")


@dataclass(slots=True)
class _Head:
    """What calls at one state root read from our tries (None: no account)."""

    accounts: dict[bytes, _Info | None] = field(default_factory=dict)
    slots: dict[bytes, dict[int, int]] = field(default_factory=dict)
    codes: dict[bytes, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Env:
    chain_id: int
    number: int
    coinbase: bytes
    timestamp: int
    gas_limit: int


class RevmCalls:
    """Runs calls and gas estimates on revm; keeps what it read for the last `HEADS` roots."""

    def __init__(self, *, heads: int = HEADS) -> None:
        use_native_keccak()
        self._heads: OrderedDict[bytes, _Head] = OrderedDict()
        self._max_heads = heads
        self._lock = threading.Lock()
        self.runs = 0  # messages run, reruns included

    def call(
        self,
        db: Any,
        header: Any,
        *,
        chain_id: int,
        timestamp: int,
        sender: bytes,
        to: bytes,
        data: bytes,
        value: int,
        gas: int,
        seconds: float | None = None,
    ) -> CallResult:
        """Run a message on top of block `header`, as if in the next block."""
        _affordable(gas, seconds)
        message = self._message(db, header, chain_id, timestamp, sender, to, data, value, seconds)
        return message.run(gas)

    def estimate_gas(
        self,
        db: Any,
        header: Any,
        *,
        chain_id: int,
        timestamp: int,
        sender: bytes,
        to: bytes,
        data: bytes,
        value: int,
        gas_cap: int,
        seconds: float | None = None,
    ) -> CallResult:
        """`node.calls.estimate` with revm's runs (as `node.evm.estimate_gas`)."""
        _affordable(gas_cap, seconds)
        message = self._message(db, header, chain_id, timestamp, sender, to, data, value, seconds)
        return estimate(message.run, data=data, gas_cap=gas_cap)

    def _message(
        self,
        db: Any,
        header: Any,
        chain_id: int,
        timestamp: int,
        sender: bytes,
        to: bytes,
        data: bytes,
        value: int,
        seconds: float | None,
    ) -> _Message:
        if not to:
            raise UnsupportedByEngine("a creation is run on py-evm")
        root = bytes(header.state_root)
        env = _Env(
            chain_id=chain_id,
            number=int(header.block_number) + 1,
            coinbase=bytes(header.coinbase),
            timestamp=timestamp,
            gas_limit=int(header.gas_limit),
        )
        deadline = None if seconds is None else time.monotonic() + seconds
        reader = TrieState(db, root)
        return _Message(self, self._head(root), reader, env, sender, to, data, value, deadline)

    def _head(self, root: bytes) -> _Head:
        with self._lock:
            head = self._heads.get(root)
            if head is None:
                head = self._heads[root] = _Head()
                while len(self._heads) > self._max_heads:
                    self._heads.popitem(last=False)
            else:
                self._heads.move_to_end(root)
            return head


class _Message:
    """One message at one state; `run(gas)` runs it (again) with that much gas."""

    def __init__(
        self,
        calls: RevmCalls,
        head: _Head,
        reader: StateReader,
        env: _Env,
        sender: bytes,
        to: bytes,
        data: bytes,
        value: int,
        deadline: float | None,
    ) -> None:
        self._calls, self._head, self._reader, self._env = calls, head, reader, env
        self._sender, self._to, self._data, self._value = sender, to, data, value
        self._deadline = deadline
        self._used: set[bytes] = set()  # accounts this message gives revm
        for address in (sender, to, env.coinbase):
            self._use(address)

    def run(self, gas: int) -> CallResult:
        if gas < calldata_floor(self._data):
            raise UnsupportedByEngine("a gas limit below the EIP-7623 floor")
        for _ in range(MAX_RUNS):
            if self._deadline is not None and time.monotonic() > self._deadline:
                raise TimeBudgetExceeded("the message ran past its time budget")
            result, evm = self._once(gas)
            if not self._learn(evm):
                return result
        raise UnsupportedByEngine(f"the message kept reading new state for {MAX_RUNS} runs")

    def _once(self, gas: int) -> tuple[CallResult, Any]:
        evm = self._evm()
        self._calls.runs += 1
        try:
            output = bytes(
                evm.message_call(
                    _hex(self._sender),
                    _hex(self._to),
                    calldata=self._data,
                    value=self._value,
                    gas=gas,
                )
            )
        except RuntimeError as exc:
            outcome = evm.result
            if outcome is None:  # refused before running: py-evm says why in its words
                raise UnsupportedByEngine(f"revm refused the message: {exc}") from exc
            if outcome.is_halt:
                reason = str(outcome.reason)
                error = f"OutOfGas({reason!r})" if reason.startswith("OutOfGas") else reason
                return CallResult(False, b"", gas, error), evm
            found = _REVERT_OUTPUT.search(str(exc))
            data = bytes.fromhex(found.group(1)) if found else b""
            error = "execution reverted" if data else "Revert(b'')"
            return CallResult(False, data, int(outcome.gas_used), error), evm
        outcome = evm.result
        used = int(outcome.gas_used) + int(outcome.gas_refunded)  # py-evm's: before refunds
        return CallResult(True, output, used, ""), evm

    def _evm(self) -> Any:
        env = self._env
        evm = pyrevm.EVM(
            env=pyrevm.Env(cfg=pyrevm.CfgEnv(chain_id=env.chain_id)),
            gas_limit=env.gas_limit,
            spec_id=REVM_SPEC,
        )
        evm.set_block_env(
            pyrevm.BlockEnv(
                number=env.number,
                coinbase=_hex(env.coinbase),
                timestamp=env.timestamp,
                prevrandao=bytes(32),
                basefee=0,
                gas_limit=env.gas_limit,
                excess_blob_gas=0,
            )
        )
        head = self._head
        for address in self._used:
            info = head.accounts[address]
            if info is None:
                continue
            nonce, balance, code_hash = info
            if code_hash == EMPTY_CODE_HASH:
                account = _AccountInfo(balance=balance, nonce=nonce, code_hash=code_hash)
            else:
                account = _AccountInfo(balance=balance, nonce=nonce, code=head.codes[code_hash])
            evm.insert_account_info(_hex(address), account)
            # a copy: calls at the same root in other threads add slots meanwhile
            for slot, value in list(head.slots.get(address, {}).items()):
                if value:
                    # One slot per snapshot, as `engine_revm` inserts them: the first
                    # insert loads the account into revm's journal, where a second
                    # would go (and be reverted) instead of into the cache.
                    checkpoint = evm.snapshot()
                    evm.insert_account_storage(_hex(address), slot, value)
                    evm.revert(checkpoint)
        return evm

    def _use(self, address: bytes) -> bool:
        """Give revm the account from now on; True if it exists."""
        self._used.add(address)
        head = self._head
        if address not in head.accounts:
            found = self._reader.account(address)
            info = None if found is None else (found.nonce, found.balance, found.code_hash)
            if info is not None and info[2] != EMPTY_CODE_HASH and info[2] not in head.codes:
                head.codes[info[2]] = self._reader.code(info[2])
            head.accounts[address] = info
        return head.accounts[address] is not None

    def _learn(self, evm: Any) -> bool:
        """Read what revm asked its cache for; True if it saw a wrong value (run again)."""
        wrong = False
        for name in evm.db_accounts:
            address = bytes.fromhex(name[2:])
            if address in _BLS_PRECOMPILES:
                raise UnsupportedByEngine(f"a call reached the BLS precompile {name}")
            if address not in self._used:
                wrong |= self._use(address)
        text = str(evm)
        at = text.rfind("block_hashes: {")
        if at >= 0 and text[at + len("block_hashes: {")] != "}":
            raise UnsupportedByEngine("BLOCKHASH: pyrevm cannot be given the chain's hashes")
        for address, slots in _cached_slots(text).items():
            known = self._head.slots.setdefault(address, {})
            for slot in slots - set(known):
                value = self._reader.storage(address, slot)
                known[slot] = value
                wrong |= value != 0
        return wrong


def _affordable(gas: int, seconds: float | None) -> None:
    if seconds is not None and gas > seconds * REVM_GAS_PER_SECOND:
        raise UnsupportedByEngine(f"{gas} gas could outlast the time budget on revm")


def _cached_slots(text: str) -> dict[bytes, set[int]]:
    """The slots of each account in the first cache `str(evm)` shows."""
    start = text.find(_CACHE)
    end = text.find(_CACHE_END, start)
    if start < 0 or end < 0:
        raise UnsupportedByEngine("pyrevm's EVM does not show its cache")
    found: dict[bytes, set[int]] = {}
    for match in _DB_ACCOUNT.finditer(text, start, end):
        storage = _STORAGE.search(text, match.end(), end)
        if storage is None:
            raise UnsupportedByEngine("pyrevm's cache shows an account without storage")
        slots = {int(slot) for slot in _SLOT.findall(storage.group(1))}
        if slots:
            found[bytes.fromhex(match.group(1))] = slots
    return found


def _hex(address: bytes) -> str:
    return "0x" + address.hex()
