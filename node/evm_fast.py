"""A faster opcode loop for py-evm's Prague computation (same semantics, less work).

py-evm runs every opcode through `Opcode.__call__` → `computation.consume_gas` →
`GasMeter.consume_gas` (with a debug-logging check) → the opcode's logic, which pops and
pushes through several layers of methods. Here each distinct contract code is decoded once
(`_program`) into segments: runs of opcodes that `_run` executes itself (stack, arithmetic,
comparison and bit operations, memory, calldata, context reads, SHA3, SLOAD, EXP, copies)
ending at a jump, a JUMPDEST, GAS, SSTORE, a message call (CALL, CALLCODE, DELEGATECALL,
STATICCALL: py-evm's gas rules, then the child frame in a journal snapshot as
`apply_child_computation` runs it), a LOG, or an opcode left to py-evm (RETURN, CREATE,
...). A segment's fixed gas and stack bounds are checked once on entry; when they do not
hold, the segment runs opcode by opcode through py-evm's own objects, so a failing frame
fails at the same opcode with py-evm's error. Dynamic costs (memory growth, SHA3 words,
cold slots, EXP bytes) are charged where they occur: with the segment's fixed gas paid
ahead, running out there still runs the frame out of gas, as charging per opcode would.
Storage goes through the state's own methods (journal, access list, refunds), as py-evm's
SLOAD and SSTORE do. Jump destinations are analysed once per distinct code too.
`AdmittedTransactionExecutor` skips re-checking what admission already checked.
A message run under `time_budget` (eth_call, eth_estimateGas) raises `TimeBudgetExceeded`
between segments once its wall-time budget is spent: the clock is read on entering each
frame and after every `CHECK_EVERY_GAS` gas, so code without a budget (blocks) pays one
integer comparison per segment; a slow precompile is not started when the gas its frame
was given could outlast the budget.
`tests/node/test_evm_fast.py` checks that blocks built with this loop and with py-evm's own
are identical, every inlined opcode at its edges included. (py-evm's per-opcode debug2
logging is not emitted by this loop.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, cast

from eth._utils.address import generate_contract_address
from eth.constants import (
    CREATE_CONTRACT_ADDRESS,
    EMPTY_SHA3,
    GAS_CALLSTIPEND,
    GAS_CALLVALUE,
    GAS_LOGDATA,
    GAS_LOGTOPIC,
    GAS_NEWACCOUNT,
    STACK_DEPTH_LIMIT,
    UINT_256_MAX,
)
from eth.exceptions import (
    FullStack,
    Halt,
    InsufficientStack,
    InvalidJumpDestination,
    OutOfBoundsRead,
    OutOfGas,
    WriteProtection,
)
from eth.vm.code_stream import CodeStream
from eth.vm.forks.berlin.constants import (
    COLD_ACCOUNT_ACCESS_COST,
    COLD_SLOAD_COST,
    WARM_STORAGE_READ_COST,
)
from eth.vm.forks.berlin.logic import sload_eip2929
from eth.vm.forks.cancun.constants import BLOB_TX_TYPE
from eth.vm.forks.london.constants import EIP3529_MAX_REFUND_QUOTIENT
from eth.vm.forks.london.storage import GAS_SCHEDULE_EIP3529, sstore_eip3529
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.forks.prague.constants import DELEGATION_DESIGNATION_PREFIX
from eth.vm.forks.prague.logic import (
    CallCodeEIP7702,
    CallEIP7702,
    DelegateCallEIP7702,
    StaticCallEIP7702,
)
from eth.vm.forks.prague.state import PragueState, PragueTransactionExecutor
from eth.vm.logic.arithmetic import exp as exp_logic
from eth.vm.logic.invalid import InvalidOpcode
from eth.vm.logic.logging import log_XX
from eth.vm.memory import Memory
from eth.vm.message import Message
from eth.vm.opcode import _FastOpcode
from eth.vm.opcode_values import (
    ADD,
    ADDMOD,
    ADDRESS,
    AND,
    BYTE,
    CALL,
    CALLCODE,
    CALLDATACOPY,
    CALLDATALOAD,
    CALLDATASIZE,
    CALLER,
    CALLVALUE,
    CHAINID,
    CODECOPY,
    CODESIZE,
    DELEGATECALL,
    DIV,
    DUP1,
    DUP16,
    EQ,
    EXP,
    GAS,
    GT,
    ISZERO,
    JUMP,
    JUMPDEST,
    JUMPI,
    LOG0,
    LOG4,
    LT,
    MCOPY,
    MLOAD,
    MOD,
    MSIZE,
    MSTORE,
    MSTORE8,
    MUL,
    MULMOD,
    NOT,
    NUMBER,
    OR,
    ORIGIN,
    POP,
    PUSH0,
    PUSH1,
    PUSH32,
    RETURNDATACOPY,
    RETURNDATASIZE,
    SAR,
    SDIV,
    SELFBALANCE,
    SGT,
    SHA3,
    SHL,
    SHR,
    SIGNEXTEND,
    SLOAD,
    SLT,
    SMOD,
    SSTORE,
    STATICCALL,
    STOP,
    SUB,
    SWAP1,
    SWAP16,
    TIMESTAMP,
    XOR,
)
from eth.vm.spoof import SpoofTransaction
from eth.vm.stack import Stack, to_int
from eth_hash.auto import keccak

from medledger.node.errors import NodeError

__all__ = [
    "AdmittedTransactionExecutor",
    "FastPragueComputation",
    "FastPragueState",
    "TimeBudgetExceeded",
    "time_budget",
]

_NO_PRECOMPILE = object()
_WORD = 1 << 256
_INT_MAX = (1 << 255) - 1
_EXP_BYTE_GAS = 50  # EIP-160
_ADDRESS_MASK = (1 << 160) - 1
_RIPEMD160 = (3).to_bytes(20, "big")  # EIP-716: touched even in a failed frame


@lru_cache(maxsize=512)
def _opcode_positions(code: bytes) -> frozenset[int]:
    """Positions in `code` that start an instruction (not PUSH data): the classic
    jump-destination analysis, done once per distinct code instead of per call frame."""
    positions = []
    i, n = 0, len(code)
    while i < n:
        positions.append(i)
        op = code[i]
        i += op - PUSH1 + 2 if PUSH1 <= op <= PUSH32 else 1
    return frozenset(positions)


class FastCodeStream(CodeStream):
    """py-evm's CodeStream with `is_valid_opcode` answered from the cached analysis."""

    __slots__ = ["_positions"]

    def __init__(self, code_bytes: bytes) -> None:
        super().__init__(code_bytes)
        self._positions = _opcode_positions(bytes(code_bytes))

    def is_valid_opcode(self, position: int) -> bool:
        return position in self._positions


class FastStack(Stack):
    """py-evm's Stack with the hot paths written out (same checks, same errors)."""

    def push_int(self, value: int) -> None:
        values = self.values
        if len(values) > 1023:
            raise FullStack("Stack limit reached")
        if not 0 <= value <= UINT_256_MAX:
            super().push_int(value)  # raises py-evm's ValidationError
        values.append(value)

    def push_bytes(self, value: bytes) -> None:
        values = self.values
        if len(values) > 1023:
            raise FullStack("Stack limit reached")
        if len(value) > 32:
            super().push_bytes(value)  # raises py-evm's ValidationError
        values.append(value)

    def pop1_int(self) -> int:
        try:
            item = self.values.pop()
        except IndexError:
            raise InsufficientStack("Wanted 1 stack item, had none") from None
        return item if type(item) is int else to_int(item)

    def pop_ints(self, num_items: int) -> tuple[int, ...]:
        values = self.values
        if num_items > len(values):
            raise InsufficientStack(f"Wanted {num_items} stack items, only had {len(values)}")
        items = values[-num_items:]
        del values[-num_items:]
        items.reverse()
        return tuple([x if type(x) is int else to_int(x) for x in items])


CHECK_EVERY_GAS = 50_000  # ~10 ms of the cheapest opcodes
# ecrecover (coincurve), SHA-256, RIPEMD-160 and identity: native code, cheap per gas
FAST_PRECOMPILES = frozenset(n.to_bytes(20, "big") for n in (1, 2, 3, 4))
SLOW_PRECOMPILE_SECONDS_PER_GAS = 25e-6


class TimeBudgetExceeded(NodeError):
    """A message run under `time_budget` ran past it (not an EVM error: nothing catches
    it on the way out of py-evm)."""


_budget = threading.local()


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Messages run in this thread within the block raise `TimeBudgetExceeded` once
    `seconds` have passed."""
    _budget.deadline = time.monotonic() + seconds
    try:
        yield
    finally:
        _budget.deadline = None


def _within_budget(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise TimeBudgetExceeded("the message ran past its time budget")


def _precompile_within_budget(message: Any) -> None:
    """Under a time budget, refuse to start a slow precompile that could outlast it: it
    runs in one Python call that nothing interrupts. The elliptic-curve pairings, BLAKE2
    and the BLS12-381 operations run in pure Python (py_ecc) at 5-15 µs per gas they
    charge, priced for native code; each charges before it works, so the gas its frame
    was given bounds its time."""
    deadline: float | None = getattr(_budget, "deadline", None)
    if deadline is not None and message.code_address not in FAST_PRECOMPILES:
        _within_budget(deadline - message.gas * SLOW_PRECOMPILE_SECONDS_PER_GAS)


class FastPragueComputation(PragueComputation):
    def __init__(self, state: Any, message: Any, transaction_context: Any) -> None:
        # What BaseComputation's and ShanghaiComputation's constructors do, building the
        # code stream and stack once, as the fast kinds.
        self.state = state
        self.msg = message
        self.transaction_context = transaction_context
        self.code = FastCodeStream(message.code)
        self._gas_meter = self._configure_gas_meter()
        self.children = []
        self.accounts_to_delete = []
        self.beneficiaries = []
        self._stack = FastStack()
        self._memory = Memory()
        self._log_entries = []
        self.data_floor_cost = 0
        state.mark_address_warm(state.coinbase)  # EIP-3651

    @classmethod
    def apply_computation(
        cls,
        state: Any,
        message: Any,
        transaction_context: Any,
        parent_computation: Any = None,
    ) -> Any:
        with cls(state, message, transaction_context) as computation:
            if computation.is_origin_computation:
                computation.contracts_created = []
                if message.is_create:
                    cls.consume_initcode_gas_cost(computation)
            if parent_computation is not None:
                computation.contracts_created = parent_computation.contracts_created
            if message.is_create:
                computation.contracts_created.append(message.storage_address)
            precompile: Any = computation.precompiles.get(message.code_address, _NO_PRECOMPILE)
            if precompile is not _NO_PRECOMPILE:
                if not message.is_delegation:
                    _precompile_within_budget(message)
                    precompile(computation)
                return computation
            _run(computation)
        return computation


# Stack effect (items taken, items left) of every opcode `_run` executes itself, by
# mnemonic. Any other opcode, and any of these whose table entry is not py-evm's plain
# fixed-gas opcode with the expected logic, goes through py-evm's own opcode object.
_EFFECTS: dict[str, tuple[int, int]] = {
    **dict.fromkeys(["ADD", "MUL", "SUB", "DIV", "SDIV", "MOD", "SMOD", "EXP"], (2, 1)),
    **dict.fromkeys(["SIGNEXTEND", "LT", "GT", "SLT", "SGT", "EQ", "AND", "OR"], (2, 1)),
    **dict.fromkeys(["XOR", "BYTE", "SHL", "SHR", "SAR", "SHA3"], (2, 1)),
    **dict.fromkeys(["ADDMOD", "MULMOD"], (3, 1)),
    **dict.fromkeys(["ISZERO", "NOT", "MLOAD", "CALLDATALOAD", "SLOAD"], (1, 1)),
    **dict.fromkeys(["ADDRESS", "ORIGIN", "CALLER", "CALLVALUE", "CALLDATASIZE"], (0, 1)),
    **dict.fromkeys(["CODESIZE", "RETURNDATASIZE", "TIMESTAMP", "NUMBER", "CHAINID"], (0, 1)),
    **dict.fromkeys(["SELFBALANCE", "MSIZE", "GAS"], (0, 1)),
    **dict.fromkeys(["MSTORE", "MSTORE8", "SSTORE", "JUMPI"], (2, 0)),
    **dict.fromkeys(["POP", "JUMP"], (1, 0)),
    **dict.fromkeys(["CALLDATACOPY", "CODECOPY", "RETURNDATACOPY", "MCOPY"], (3, 0)),
    **dict.fromkeys(["JUMPDEST", "STOP"], (0, 0)),
    **{f"PUSH{n}": (0, 1) for n in range(33)},
    **{f"DUP{n}": (n, n + 1) for n in range(1, 17)},
    **{f"SWAP{n}": (n + 1, n + 1) for n in range(1, 17)},
}

# How a segment ends (the opcodes that end one, and the fall-through into a JUMPDEST).
_END, _JUMP, _JUMPI, _JUMP_TO, _JUMPI_TO, _GAS, _SSTORE, _STOP, _EVM, _CALL, _LOG = range(11)
_TERMINATORS = {
    JUMP: _JUMP,
    JUMPI: _JUMPI,
    GAS: _GAS,
    SSTORE: _SSTORE,
    STOP: _STOP,
    **dict.fromkeys([CALL, CALLCODE, DELEGATECALL, STATICCALL], _CALL),
    **dict.fromkeys(range(LOG0, LOG4 + 1), _LOG),
}

# The message-call opcodes `_call` implements, as Prague configures them.
_CALLS: dict[int, tuple[type, tuple[int, int]]] = {
    CALL: (CallEIP7702, (7, 1)),
    CALLCODE: (CallCodeEIP7702, (7, 1)),
    DELEGATECALL: (DelegateCallEIP7702, (6, 1)),
    STATICCALL: (StaticCallEIP7702, (6, 1)),
}

# A decoded segment: fixed gas, least stack height needed, greatest stack height allowed
# on entry, the body's (opcode, argument) pairs, how it ends and that end's argument, the
# position of its last opcode, and where execution goes on.
_Segment = tuple[int, int, int, tuple[tuple[int, int], ...], int, int, int, int]


class _Table:
    """What `_run` needs of one opcode table: per opcode byte, its fixed gas, its stack
    effect if `_run` executes it itself (else None), and the py-evm object to call."""

    def __init__(self, lookup: dict[int, Any]) -> None:
        self.lookup = lookup
        self.effects: list[tuple[int, int] | None] = [None] * 256
        self.costs = [0] * 256
        for op, fn in lookup.items():
            if type(fn) is _FastOpcode and fn.mnemonic in _EFFECTS and _is_plain(op, fn):
                self.effects[op] = _EFFECTS[fn.mnemonic]
            elif op in _CALLS and type(fn).__bases__ == (_CALLS[op][0],):
                self.effects[op] = _CALLS[op][1]
            elif LOG0 <= op <= LOG4 and type(fn) is _FastOpcode and _is_log(op - LOG0, fn):
                self.effects[op] = (op - LOG0 + 2, 0)
            else:
                continue
            self.costs[op] = fn.gas_cost


def _is_plain(op: int, fn: Any) -> bool:
    """Whether `fn` is the logic `_run` implements for `op` (Berlin to Prague's)."""
    if op == SLOAD:
        return fn.logic_fn is sload_eip2929
    if op == SSTORE:
        return getattr(fn.logic_fn, "__wrapped__", None) is sstore_eip3529
    if op == EXP:
        logic = fn.logic_fn
        same = getattr(logic, "func", None) is getattr(exp_logic, "func", exp_logic)
        return same and getattr(logic, "keywords", None) == {"gas_per_byte": _EXP_BYTE_GAS}
    return True


def _is_log(topics: int, fn: Any) -> bool:
    """Whether `fn` is py-evm's LOG<topics> behind Byzantium's static-call guard."""
    logic: Any = getattr(fn.logic_fn, "__wrapped__", None)
    return getattr(logic, "func", None) is log_XX and logic.keywords == {"topic_count": topics}


_tables: dict[int, _Table] = {}


def _table(lookup: dict[int, Any]) -> _Table:
    table = _tables.get(id(lookup))
    if table is None or table.lookup is not lookup:
        table = _tables[id(lookup)] = _Table(lookup)
    return table


@lru_cache(maxsize=128)
def _program(table: _Table, code: bytes) -> tuple[list[_Segment | None], frozenset[int]]:
    """`code` cut into segments, indexed by the position each starts at (None elsewhere),
    and its jump destinations."""
    jumpdests = frozenset(p for p in _opcode_positions(code) if code[p] == JUMPDEST)
    segments: list[_Segment | None] = [None] * len(code)
    n, pc = len(code), 0
    while pc < n:
        start = pc
        cost = need = height = peak = 0
        body: list[tuple[int, int]] = []
        end, arg = _END, 0
        while True:
            at, op = pc, code[pc]
            effect = table.effects[op]
            pc += 1
            if effect is None:
                end = _EVM
                break
            taken, left = effect
            cost += table.costs[op]
            need = max(need, taken - height)
            height += left - taken
            peak = max(peak, height)
            if PUSH0 <= op <= PUSH32:
                data = code[pc : pc + op - PUSH0].ljust(op - PUSH0, b"\x00")
                body.append((PUSH1, int.from_bytes(data, "big")))
                pc += op - PUSH0
            elif DUP1 <= op <= DUP16:
                body.append((DUP1, DUP1 - op - 1))  # negative index of the copied item
            elif SWAP1 <= op <= SWAP16:
                body.append((SWAP1, SWAP1 - op - 2))  # negative index of the other item
            elif op in _TERMINATORS:
                end, arg = _TERMINATORS[op], op
                break
            elif op != JUMPDEST:
                body.append((op, 0))
            if pc >= n or code[pc] == JUMPDEST:
                break
        if end in (_JUMP, _JUMPI) and body and body[-1][0] == PUSH1:
            target = body.pop()[1]
            end, arg = _JUMP_TO if end == _JUMP else _JUMPI_TO, target
            if target not in jumpdests:
                arg = -1
        segments[start] = (cost, need, 1024 - peak, tuple(body), end, arg, at, pc)
    return segments, jumpdests


def _run(computation: Any) -> None:
    """Execute the frame's code, segment by segment, on local copies of the program counter
    and the gas left (written back before py-evm's code sees them). Every value on the stack
    is an int: what py-evm's opcodes push as bytes is converted at once."""
    code = computation.code
    raw: bytes = code._raw_code_bytes
    n = len(raw)
    table = _table(computation.opcodes)
    segments, jumpdests = _program(table, bytes(raw))
    stack: list[int] = computation._stack.values
    append, pop = stack.append, stack.pop
    memory = computation._memory
    meter = computation._gas_meter
    pc: int = code.program_counter
    gas: int = meter.gas_remaining  # -1 while py-evm's opcodes own the meter
    deadline: float | None = getattr(_budget, "deadline", None)
    check_at = -1  # the gas left at which to read the clock next (never without a budget)
    if deadline is not None:
        _within_budget(deadline)
        check_at = gas - CHECK_EVERY_GAS
    try:
        while pc < n:
            if gas < check_at:
                _within_budget(cast(float, deadline))
                check_at = gas - CHECK_EVERY_GAS
            start = pc
            cost, need, room, body, end, arg, last, pc = segments[pc]  # type: ignore[misc]
            height = len(stack)
            if cost > gas or height < need or height > room:
                meter.gas_remaining, gas = gas, -1
                pc = _by_py_evm(computation, start, last)
                if pc < 0:
                    return
                gas = meter.gas_remaining
                continue
            gas -= cost
            for op, value in body:
                if op == PUSH1:
                    append(value)
                elif op == DUP1:
                    append(stack[value])
                elif op == SWAP1:
                    stack[-1], stack[value] = stack[value], stack[-1]
                elif op == ADD:
                    value = pop()
                    stack[-1] = (value + stack[-1]) & UINT_256_MAX
                elif op == AND:
                    value = pop()
                    stack[-1] &= value
                elif op == MSTORE:
                    start = pop()
                    value = pop()
                    if start + 32 > len(memory._bytes):
                        gas = _grow(memory, gas, start, 32)
                    memory._bytes[start : start + 32] = value.to_bytes(32, "big")
                elif op == EQ:
                    value = pop()
                    stack[-1] = 1 if value == stack[-1] else 0
                elif op == MLOAD:
                    start = stack[-1]
                    if start + 32 > len(memory._bytes):
                        gas = _grow(memory, gas, start, 32)
                    stack[-1] = int.from_bytes(memory._bytes[start : start + 32], "big")
                elif op == ISZERO:
                    stack[-1] = 0 if stack[-1] else 1
                elif op == SUB:
                    value = pop()
                    stack[-1] = (value - stack[-1]) & UINT_256_MAX
                elif op == POP:
                    pop()
                elif op == GT:
                    value = pop()
                    stack[-1] = 1 if value > stack[-1] else 0
                elif op == LT:
                    value = pop()
                    stack[-1] = 1 if value < stack[-1] else 0
                elif op == SHL:
                    value = pop()
                    stack[-1] = (stack[-1] << value) & UINT_256_MAX if value < 256 else 0
                elif op == SHR:
                    value = pop()
                    stack[-1] = stack[-1] >> value if value < 256 else 0
                elif op == OR:
                    value = pop()
                    stack[-1] |= value
                else:
                    gas = _OTHERS[op](computation, stack, gas)
            if end == _JUMPI_TO:
                if pop():
                    if arg < 0:
                        raise InvalidJumpDestination("Invalid Jump Destination")
                    pc = arg
            elif end == _JUMP:
                pc = pop()
                if pc not in jumpdests:
                    raise InvalidJumpDestination("Invalid Jump Destination")
            elif end == _JUMP_TO:
                if arg < 0:
                    raise InvalidJumpDestination("Invalid Jump Destination")
                pc = arg
            elif end == _EVM:
                code.program_counter = last + 1
                meter.gas_remaining, gas = gas, -1
                op = raw[last]
                try:
                    (table.lookup.get(op) or InvalidOpcode(op))(computation=computation)
                except Halt:
                    return
                _int_on_top(stack)
                pc, gas = code.program_counter, meter.gas_remaining
            elif end == _JUMPI:
                target = pop()
                if pop():
                    if target not in jumpdests:
                        raise InvalidJumpDestination("Invalid Jump Destination")
                    pc = target
            elif end == _SSTORE:
                gas = _sstore(computation, stack, gas)
            elif end == _CALL:
                gas = _call(computation, stack, gas, arg)
            elif end == _LOG:
                gas = _log(computation, stack, gas, arg - LOG0)
            elif end == _GAS:
                append(gas)
            elif end == _STOP:
                break
    except BaseException:
        if gas >= 0:
            meter.gas_remaining = gas
        raise
    code.program_counter = pc
    meter.gas_remaining = gas


def _by_py_evm(computation: Any, start: int, last: int) -> int:
    """Run opcodes through py-evm's own objects, with the meter holding the gas, from
    `start` up to and including the one at `last`: the slow path for a segment whose gas
    or stack bounds do not hold. Returns the position to go on at, or -1 once the frame
    halted."""
    code = computation.code
    raw = code._raw_code_bytes
    stack = computation._stack.values
    lookup = computation.opcodes
    at = start
    while True:
        op = raw[at]
        code.program_counter = at + 1
        try:
            (lookup.get(op) or InvalidOpcode(op))(computation=computation)
        except Halt:
            return -1
        _int_on_top(stack)
        if at == last:
            return cast(int, code.program_counter)
        at = code.program_counter


def _int_on_top(stack: list[Any]) -> None:
    """Convert what py-evm's opcode pushed as bytes (it pushes at most one item)."""
    if stack and type(stack[-1]) is not int:
        stack[-1] = int.from_bytes(stack[-1], "big")


def _grow(memory: Any, gas: int, start: int, size: int) -> int:
    """Charge for and extend memory to cover `size` (> 0) bytes at `start`, as
    `extend_memory` does; returns the gas left."""
    before = len(memory._bytes) // 32
    after = (start + size + 31) // 32
    fee = after * 3 + after * after // 512 - before * 3 - before * before // 512
    if fee > 0:
        if fee > gas:
            raise OutOfGas(f"Out of gas: Needed {fee} - Remaining {gas} - Expanding memory")
        gas -= fee
        memory.extend(start, size)
    return gas


def _charge(gas: int, fee: int, reason: str) -> int:
    if fee > gas:
        raise OutOfGas(f"Out of gas: Needed {fee} - Remaining {gas} - Reason: {reason}")
    return gas - fee


def _sload(computation: Any, stack: list[int], gas: int) -> int:
    state = computation.state
    address = computation.msg.storage_address
    slot = stack[-1]
    if state.is_storage_warm(address, slot):
        gas = _charge(gas, WARM_STORAGE_READ_COST, "SLOAD")
    else:
        state.mark_storage_warm(address, slot)
        gas = _charge(gas, COLD_SLOAD_COST, "SLOAD")
    stack[-1] = state.get_storage(address, slot)
    return gas


def _sstore(computation: Any, stack: list[int], gas: int) -> int:
    """EIP-2200 net metering with EIP-2929 access costs and EIP-3529 refunds, in the order
    py-evm's `sstore_eip3529` charges, refunds and writes."""
    msg = computation.msg
    if msg.is_static:
        raise WriteProtection("Cannot modify state while inside of a STATICCALL context")
    if gas <= 2300:
        raise OutOfGas("Net-metered SSTORE always fails below 2300 gas, per EIP-2200", gas)
    state = computation.state
    address = msg.storage_address
    slot = stack.pop()
    value = stack.pop()
    current = state.get_storage(address, slot)
    original = state.get_storage(address, slot, from_journal=False)
    schedule = GAS_SCHEDULE_EIP3529
    refund = 0
    if current == value:
        cost = schedule.sload_gas
    elif original == current:
        if original == 0:
            cost = schedule.sstore_set_gas
        else:
            cost = schedule.sstore_reset_gas
            if value == 0:
                refund += schedule.sstore_clears_schedule
    else:
        cost = schedule.sload_gas
        if original != 0:
            if current == 0:
                refund -= schedule.sstore_clears_schedule
            if value == 0:
                refund += schedule.sstore_clears_schedule
        if original == value:
            if original == 0:
                refund += schedule.sstore_set_gas - schedule.sload_gas
            else:
                refund += schedule.sstore_reset_gas - schedule.sload_gas
    gas = _charge(gas, cost, "SSTORE")
    if refund:
        computation._gas_meter.refund_gas(refund)
    state.set_storage(address, slot, value)
    if not state.is_storage_warm(address, slot):
        state.mark_storage_warm(address, slot)
        gas = _charge(gas, COLD_SLOAD_COST, "Implicit SLOAD during SSTORE")
    return gas


def _log(computation: Any, stack: list[int], gas: int, topic_count: int) -> int:
    """LOG0..LOG4 after their fixed gas, as py-evm's `log_XX` behind its static guard."""
    msg = computation.msg
    if msg.is_static:
        raise WriteProtection("Cannot modify state while inside of a STATICCALL context")
    start, size = stack.pop(), stack.pop()
    topics = tuple([stack.pop() for _ in range(topic_count)])
    gas = _charge(gas, GAS_LOGDATA * size + GAS_LOGTOPIC * topic_count, "LOG")
    memory = computation._memory
    if size and start + size > len(memory._bytes):
        gas = _grow(memory, gas, start, size)
    data = bytes(memory._bytes[start : start + size]) if size else b""
    counter = computation.transaction_context.get_next_log_counter()
    computation._log_entries.append((counter, msg.storage_address, topics, data))
    return gas


def _load_account(state: Any, address: bytes, gas: int) -> int:
    """EIP-2929's charge for reading an account's code (precompiles are always warm)."""
    if state.is_address_warm(address):
        return _charge(gas, WARM_STORAGE_READ_COST, "warm account load")
    state.mark_address_warm(address)
    return _charge(gas, COLD_ACCOUNT_ACCESS_COST, "cold account load")


def _call(computation: Any, stack: list[int], gas: int, op: int) -> int:
    """CALL, CALLCODE, DELEGATECALL and STATICCALL as Prague's `BaseCall.__call__` runs
    them: memory growth, EIP-2929 account loads (the EIP-7702 delegate's too), value and
    new-account fees, EIP-150's 63/64 cap, the stipend, then the child frame in its own
    journal snapshot; returns the gas left."""
    msg = computation.msg
    state = computation.state
    pop = stack.pop
    requested = pop()
    address = (pop() & _ADDRESS_MASK).to_bytes(20, "big")
    transfers = op == CALL or op == CALLCODE
    value = pop() if transfers else 0
    in_start, in_size, out_start, out_size = pop(), pop(), pop(), pop()
    is_static = msg.is_static
    code_address: bytes | None = address
    if op == CALL or op == STATICCALL:
        if op == STATICCALL:
            is_static = True
        elif value and is_static:
            raise WriteProtection("Cannot modify state while inside of a STATICCALL context")
        to, sender, code_address = address, msg.storage_address, None
    elif op == CALLCODE:
        to = sender = msg.storage_address
    else:
        to, sender, value = msg.storage_address, msg.sender, msg.value

    memory = computation._memory
    if in_size and in_start + in_size > len(memory._bytes):
        gas = _grow(memory, gas, in_start, in_size)
    if out_size and out_start + out_size > len(memory._bytes):
        gas = _grow(memory, gas, out_start, out_size)
    data = bytes(memory._bytes[in_start : in_start + in_size]) if in_size else b""

    gas = _load_account(state, address, gas)
    code = state.get_code(address)
    delegate = None
    if len(code) == 23 and code[:3] == DELEGATION_DESIGNATION_PREFIX:
        delegate = code[3:]
        gas = _load_account(state, delegate, gas)
        code = state.get_code(delegate)

    extra = 0
    if transfers and value:
        extra = GAS_CALLVALUE
        if op == CALL and (not state.account_exists(to) or state.account_is_empty(to)):
            extra += GAS_NEWACCOUNT
    if gas < extra:
        raise OutOfGas(f"Out of gas: Needed {extra} - Remaining {gas} - Reason: CALL")
    child_gas = min(requested, gas - extra - (gas - extra) // 64)
    gas -= child_gas + extra
    if transfers and value:
        child_gas += GAS_CALLSTIPEND
        if state.get_balance(msg.storage_address) < value:
            computation.return_data = b""
            stack.append(0)
            return gas + child_gas
    if msg.depth + 1 > STACK_DEPTH_LIMIT:
        computation.return_data = b""
        stack.append(0)
        return gas + child_gas

    child_msg: Any = Message.__new__(Message)
    child_msg.gas = child_gas
    child_msg.to = to
    child_msg.sender = sender
    child_msg.value = value
    child_msg.data = data
    child_msg.depth = msg.depth + 1
    child_msg.code = code
    child_msg._code_address = delegate or code_address
    child_msg.create_address = None
    child_msg._storage_address = None
    child_msg.should_transfer_value = transfers
    child_msg.is_static = is_static
    child_msg._is_delegation = delegate is not None
    child_msg.refund = 0
    child = _apply_message(computation, child_msg)

    error = child._error
    if error is None:
        stack.append(1)
        output = computation.return_data = child._output
    else:
        stack.append(0)
        output = b"" if error.erases_return_data else child._output
        computation.return_data = b"" if error.burns_gas else output
    if output and out_size:
        size = min(out_size, len(output))
        memory._bytes[out_start : out_start + size] = output[:size]
    if error is None or not error.burns_gas:
        gas += child._gas_meter.gas_remaining
    return gas


def _apply_message(computation: Any, message: Any) -> Any:
    """A child frame, as `apply_child_computation` runs it (`FrontierComputation.
    apply_message`, then `add_child_computation` but for the return data), less the
    depth and balance checks `_call` has made."""
    state = computation.state
    snapshot = state.snapshot()
    if message.should_transfer_value and message.value:
        state.delta_balance(message.sender, -message.value)
        state.delta_balance(message.to, message.value)
    state.touch_account(message.to)
    child = type(computation).apply_computation(
        state, message, computation.transaction_context, parent_computation=computation
    )
    if child._error is None:
        state.commit(snapshot)
    else:
        state.revert(snapshot)
    computation.children.append(child)
    return child


def _sha3(computation: Any, stack: list[int], gas: int) -> int:
    start = stack.pop()
    size = stack[-1]
    memory = computation._memory
    if size and start + size > len(memory._bytes):
        gas = _grow(memory, gas, start, size)
    gas = _charge(gas, 6 * ((size + 31) // 32), "SHA3: word gas cost")
    data = bytes(memory._bytes[start : start + size]) if size else b""
    stack[-1] = int.from_bytes(keccak(data), "big")
    return gas


def _copy(computation: Any, gas: int, start: int, data: bytes, size: int) -> int:
    """Write `data` (`size` bytes, zero-padded) to memory at `start`, charging memory growth
    and the copy's word cost."""
    memory = computation._memory
    if size and start + size > len(memory._bytes):
        gas = _grow(memory, gas, start, size)
    gas = _charge(gas, 3 * ((size + 31) // 32), "copy fee")
    if size:
        memory._bytes[start : start + size] = data.ljust(size, b"\x00")
    return gas


def _calldatacopy(computation: Any, stack: list[int], gas: int) -> int:
    start, offset, size = stack.pop(), stack.pop(), stack.pop()
    data = bytes(computation.msg.data[offset : offset + size]) if size else b""
    return _copy(computation, gas, start, data, size)


def _codecopy(computation: Any, stack: list[int], gas: int) -> int:
    start, offset, size = stack.pop(), stack.pop(), stack.pop()
    data = bytes(computation.code._raw_code_bytes[offset : offset + size]) if size else b""
    return _copy(computation, gas, start, data, size)


def _returndatacopy(computation: Any, stack: list[int], gas: int) -> int:
    start, offset, size = stack.pop(), stack.pop(), stack.pop()
    returned = computation.return_data
    if offset + size > len(returned):
        raise OutOfBoundsRead(
            "Return data length is not sufficient to satisfy request.  Asked "
            f"for data from index {offset} to {offset + size}.  "
            f"Return data is {len(returned)} bytes in length."
        )
    return _copy(computation, gas, start, bytes(returned[offset : offset + size]), size)


def _mcopy(computation: Any, stack: list[int], gas: int) -> int:
    target, source, size = stack.pop(), stack.pop(), stack.pop()
    memory = computation._memory
    if size and max(target, source) + size > len(memory._bytes):
        gas = _grow(memory, gas, max(target, source), size)
    gas = _charge(gas, 3 * ((size + 31) // 32), "MCOPY fee")
    if size:
        memory._bytes[target : target + size] = memory._bytes[source : source + size]
    return gas


def _mstore8(computation: Any, stack: list[int], gas: int) -> int:
    start, value = stack.pop(), stack.pop()
    memory = computation._memory
    if start + 1 > len(memory._bytes):
        gas = _grow(memory, gas, start, 1)
    memory._bytes[start] = value & 0xFF
    return gas


def _exp(computation: Any, stack: list[int], gas: int) -> int:
    base = stack.pop()
    exponent = stack[-1]
    gas = _charge(gas, _EXP_BYTE_GAS * ((exponent.bit_length() + 7) // 8), "EXP: exponent bytes")
    stack[-1] = pow(base, exponent, _WORD)
    return gas


def _signed(value: int) -> int:
    return value - _WORD if value > _INT_MAX else value


def _sdiv(a: int, b: int) -> int:
    a, b = _signed(a), _signed(b)
    if b == 0:
        return 0
    return (-1 if a * b < 0 else 1) * (abs(a) // abs(b)) & UINT_256_MAX


def _smod(a: int, b: int) -> int:
    a, b = _signed(a), _signed(b)
    if b == 0:
        return 0
    return (-1 if a < 0 else 1) * (abs(a) % abs(b)) & UINT_256_MAX


def _signextend(bits: int, value: int) -> int:
    if bits > 31:
        return value
    sign = 1 << (bits * 8 + 7)
    return value | (_WORD - sign) if value & sign else value & (sign - 1)


def _sar(shift: int, value: int) -> int:
    signed = _signed(value)
    if shift >= 256:
        return 0 if signed >= 0 else UINT_256_MAX
    return (signed >> shift) & UINT_256_MAX


_BINARY: dict[int, Callable[[int, int], int]] = {
    MUL: lambda a, b: (a * b) & UINT_256_MAX,
    DIV: lambda a, b: a // b if b else 0,
    SDIV: _sdiv,
    MOD: lambda a, b: a % b if b else 0,
    SMOD: _smod,
    SIGNEXTEND: _signextend,
    SLT: lambda a, b: 1 if _signed(a) < _signed(b) else 0,
    SGT: lambda a, b: 1 if _signed(a) > _signed(b) else 0,
    XOR: lambda a, b: a ^ b,
    BYTE: lambda i, v: (v >> (8 * (31 - i))) & 0xFF if i < 32 else 0,
    SAR: _sar,
}

_CONTEXT: dict[int, Callable[[Any], int]] = {
    ADDRESS: lambda c: int.from_bytes(c.msg.storage_address, "big"),
    ORIGIN: lambda c: int.from_bytes(c.transaction_context.origin, "big"),
    CALLER: lambda c: int.from_bytes(c.msg.sender, "big"),
    CALLVALUE: lambda c: c.msg.value,
    CALLDATASIZE: lambda c: len(c.msg.data),
    CODESIZE: lambda c: len(c.code._raw_code_bytes),
    RETURNDATASIZE: lambda c: len(c.return_data),
    TIMESTAMP: lambda c: c.state.timestamp,
    NUMBER: lambda c: c.state.block_number,
    CHAINID: lambda c: c.state.execution_context.chain_id,
    SELFBALANCE: lambda c: c.state.get_balance(c.msg.storage_address),
    MSIZE: lambda c: len(c._memory._bytes),
}

_Handler = Callable[[Any, list[int], int], int]


def _binary(fn: Callable[[int, int], int]) -> _Handler:
    def run(computation: Any, stack: list[int], gas: int) -> int:
        a = stack.pop()
        stack[-1] = fn(a, stack[-1])
        return gas

    return run


def _context(fn: Callable[[Any], int]) -> _Handler:
    def run(computation: Any, stack: list[int], gas: int) -> int:
        stack.append(fn(computation))
        return gas

    return run


def _modular(combine: Callable[[int, int], int]) -> _Handler:
    def run(computation: Any, stack: list[int], gas: int) -> int:
        a, b = stack.pop(), stack.pop()
        m = stack[-1]
        stack[-1] = combine(a, b) % m if m else 0
        return gas

    return run


def _calldataload(computation: Any, stack: list[int], gas: int) -> int:
    start = stack[-1]
    word = bytes(computation.msg.data[start : start + 32])
    stack[-1] = int.from_bytes(word.ljust(32, b"\x00"), "big")
    return gas


def _not(computation: Any, stack: list[int], gas: int) -> int:
    stack[-1] = UINT_256_MAX - stack[-1]
    return gas


def _unreachable(computation: Any, stack: list[int], gas: int) -> int:
    raise AssertionError("opcode decoded as inline but has no handler")


# The opcodes the body loop of `_run` hands on, by opcode byte.
_OTHERS: list[_Handler] = [_unreachable] * 256
for _op, _fn in _BINARY.items():
    _OTHERS[_op] = _binary(_fn)
for _op, _get in _CONTEXT.items():
    _OTHERS[_op] = _context(_get)
_OTHERS[ADDMOD] = _modular(lambda a, b: a + b)
_OTHERS[MULMOD] = _modular(lambda a, b: a * b)
_OTHERS[CALLDATALOAD] = _calldataload
_OTHERS[NOT] = _not
_OTHERS[EXP] = _exp
_OTHERS[SHA3] = _sha3
_OTHERS[SLOAD] = _sload
_OTHERS[MSTORE8] = _mstore8
_OTHERS[CALLDATACOPY] = _calldatacopy
_OTHERS[CODECOPY] = _codecopy
_OTHERS[RETURNDATACOPY] = _returndatacopy
_OTHERS[MCOPY] = _mcopy


class AdmittedTransactionExecutor(PragueTransactionExecutor):
    """Skips `transaction.validate()` (field ranges, intrinsic gas, and recovering and
    verifying the signature once more) for signed transactions: `node.evm` executes only
    transactions from `decode_transaction`, which ran it at admission or, on a follower, when
    it decoded the published block. The state checks (nonce, balance) still run, and
    spoofed messages (`eth_call`, genesis constructors) are validated as before."""

    def validate_transaction(self, transaction: Any) -> None:
        if isinstance(transaction, SpoofTransaction):
            super().validate_transaction(cast(Any, transaction))
        else:
            self.vm_state.validate_transaction(transaction)

    def build_evm_message(self, transaction: Any) -> Any:
        """Cancun's and Prague's, less the debug2 line (which hashed the data and formatted
        the transaction whether or not it was logged); the zero gas charge is left to
        `FastPragueState.delta_balance`."""
        if transaction.type_id == BLOB_TX_TYPE:
            return super().build_evm_message(transaction)
        state: Any = self.vm_state
        sender = transaction.sender
        state.delta_balance(sender, -1 * (transaction.gas * state.get_gas_price(transaction)))
        state.increment_nonce(sender)
        refund = self.calc_message_refund(transaction)
        to = transaction.to
        create_address: Any
        if to == CREATE_CONTRACT_ADDRESS:
            create_address = generate_contract_address(sender, state.get_nonce(sender) - 1)
            data, code, delegation = b"", transaction.data, None
        else:
            create_address = None
            data = transaction.data
            code, delegation = self.get_code_at_address(to)
        return Message(
            gas=transaction.gas - transaction.intrinsic_gas,
            to=to,
            sender=sender,
            value=transaction.value,
            data=data,
            code=code,
            create_address=create_address,
            refund=refund,
            is_delegation=delegation is not None,
        )

    def finalize_computation(self, transaction: Any, computation: Any) -> Any:
        """py-evm's (Frontier's refund and fees, London's refund cap, Prague's data floor,
        then EIP-161's clearing of touched empty accounts), with the refunds, the accounts
        to delete and the touched accounts gathered in one walk of the frames, and the zero
        fee not paid to a coinbase that does not exist: py-evm creates it empty and then
        clears it again as touched."""
        state: Any = self.vm_state
        touched: set[bytes] = {state.coinbase}
        deleted: set[bytes] = set()
        refunded = _walk_frames(computation, False, touched, deleted)
        gas_remaining = computation.get_gas_remaining()
        gas_used = transaction.gas - gas_remaining
        gas_refund = min(refunded, gas_used // EIP3529_MAX_REFUND_QUOTIENT)
        floor = self.calc_data_floor_gas(transaction, gas_used, gas_refund)
        computation.data_floor_gas = floor
        refund_amount = (gas_refund + gas_remaining - floor) * state.get_gas_price(transaction)
        if refund_amount:
            state.delta_balance(computation.msg.sender, refund_amount)
        fee = (gas_used - gas_refund + floor) * state.get_tip(transaction)
        coinbase = state.coinbase
        if fee or coinbase in deleted or state.account_exists(coinbase):
            state.delta_balance(coinbase, fee)
        for account in deleted:
            state.delete_account(account)
        for account in touched:
            if state.account_exists(account) and state.account_is_empty(account):
                state.delete_account(account)
        return computation


def _walk_frames(
    computation: Any, ancestor_failed: bool, touched: set[bytes], deleted: set[bytes]
) -> int:
    """The frame's `get_gas_refund()`; adds to `touched` what py-evm's
    `collect_touched_accounts` yields for it (coinbase aside) and to `deleted` what its
    `get_accounts_for_deletion()` holds, as far as every frame above it succeeded."""
    failed = computation._error is not None
    failing = failed or ancestor_failed
    msg = computation.msg
    refund: int = msg.refund
    if not failed:
        refund += computation._gas_meter.gas_refunded
        for beneficiary in computation.beneficiaries:
            if not failing or beneficiary == _RIPEMD160:
                touched.add(beneficiary)
        if not failing:
            deleted.update(computation.accounts_to_delete)
    to = msg.to
    if to != CREATE_CONTRACT_ADDRESS and (not failing or to == _RIPEMD160):
        touched.add(to)
    for child in computation.children:
        child_refund = _walk_frames(child, failing, touched, deleted)
        if not failed:
            refund += child_refund
    return refund


class FastPragueState(PragueState):
    """`PragueState` answering storage reads from dicts of what was already read or written
    (py-evm goes through the account's journal, cache and trie layers every time). Every
    storage change made through the state updates them; a revert, an account or storage
    deletion and, for the values from before the transaction, `lock_changes` clear them.
    `lock_changes` makes the journal's values the original ones (`from_journal=False`), so
    until a slot is written again, or storage is wiped, its original is its current value."""

    computation_class = FastPragueComputation
    transaction_executor_class = AdmittedTransactionExecutor

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._current: dict[tuple[bytes, int], int] = {}
        self._original: dict[tuple[bytes, int], int] = {}
        self._written: set[tuple[bytes, int]] = set()  # since `lock_changes`
        self._wiped = True  # storage deleted since `lock_changes` (or none seen yet)

    def get_storage(self, address: Any, slot: int, from_journal: bool = True) -> int:
        key = (address, slot)
        if from_journal:
            known = self._current
        else:
            known = self._original
            if not self._wiped and key not in self._written:
                value = self._current.get(key)
                if value is not None:
                    return value
        value = known.get(key)
        if value is None:
            value = known[key] = super().get_storage(address, slot, from_journal)
        return value

    def set_storage(self, address: Any, slot: int, value: int) -> None:
        super().set_storage(address, slot, value)
        self._current[address, slot] = value
        self._written.add((address, slot))

    def delta_balance(self, address: Any, delta: int) -> None:
        if delta or not self._is_known_non_empty(address):
            super().delta_balance(address, delta)

    def touch_account(self, address: Any) -> None:
        """py-evm's touch writes the account back unchanged, or, for one that does not
        exist, creates it empty: that one is either reverted with the frame that touched it
        or, the frame and its callers succeeding, its address is among EIP-161's touched
        accounts and it is deleted, still empty, when the transaction is finalized (a value
        transfer or a creation would make it exist on its own). So neither is done."""
        if not self._is_known_non_empty(address) and self.account_exists(address):
            super().touch_account(address)

    def _is_known_non_empty(self, address: Any) -> bool:
        """Whether `address` holds a non-empty account in the journal, as the account cache
        shows it (py-evm fills it from the journal and writes through it, and clears it on a
        revert). Writing such an account back unchanged, what a zero `delta_balance` (free
        gas, no value) and `touch_account` do, changes nothing: EIP-161's touched accounts
        are gathered from the computation, not from these writes. For an account that does
        not exist they create an empty one, so py-evm's code still runs there."""
        account = cast(Any, self._account_db)._account_cache.get(address)
        return account is not None and (
            account.nonce != 0 or account.balance != 0 or account.code_hash != EMPTY_SHA3
        )

    def delete_storage(self, address: Any) -> None:
        self._forget()
        self._wiped = True
        super().delete_storage(address)

    def delete_account(self, address: Any) -> None:
        self._forget()
        self._wiped = True
        super().delete_account(address)

    def revert(self, snapshot: Any) -> None:
        self._forget()
        super().revert(snapshot)

    def lock_changes(self) -> None:
        self._original.clear()
        self._written.clear()
        super().lock_changes()
        self._wiped = False

    def _forget(self) -> None:
        self._current.clear()
        self._original.clear()
