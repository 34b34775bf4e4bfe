"""A faster opcode loop for py-evm's Prague computation (same semantics, less work).

py-evm runs every opcode through `Opcode.__call__` → `computation.consume_gas` →
`GasMeter.consume_gas` (with a debug-logging check) → the opcode's logic, which pops and
pushes through several layers of methods. `_run` executes the hottest plain opcodes itself
(PUSH, DUP, SWAP, POP, arithmetic, comparisons, bit operations, shifts, jumps, MLOAD,
MSTORE, calldata reads: `_INLINE`) on a local program counter, a local gas counter and the
stack's list; every other opcode (SLOAD, CALL, LOG, SHA3, RETURN, ...) goes through its own
py-evm object as before, with the counters written back first and read again after.
Jump destinations are analysed once per distinct contract code (py-evm redoes it, 32 bytes
back per jump, in every call frame). Errors are the same VM errors at the same points, so
a failing frame ends as before. `AdmittedTransactionExecutor` skips re-checking what
admission already checked.
`tests/node/test_evm_fast.py` checks that blocks built with this loop and with py-evm's own
are identical, every inlined opcode at its edges included. (py-evm's per-opcode debug2
logging is not emitted by this loop.)
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

from eth.constants import UINT_256_MAX
from eth.exceptions import (
    FullStack,
    Halt,
    InsufficientStack,
    InvalidJumpDestination,
    OutOfGas,
)
from eth.vm.code_stream import CodeStream
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.forks.prague.state import PragueState, PragueTransactionExecutor
from eth.vm.logic.invalid import InvalidOpcode
from eth.vm.opcode import _FastOpcode
from eth.vm.opcode_values import (
    ADD,
    AND,
    CALLDATALOAD,
    CALLDATASIZE,
    CALLVALUE,
    DIV,
    DUP1,
    EQ,
    GT,
    ISZERO,
    JUMP,
    JUMPDEST,
    JUMPI,
    LT,
    MLOAD,
    MSTORE,
    MUL,
    NOT,
    OR,
    POP,
    PUSH0,
    PUSH1,
    PUSH32,
    SGT,
    SHL,
    SHR,
    SLT,
    SUB,
    SWAP1,
    XOR,
)
from eth.vm.spoof import SpoofTransaction
from eth.vm.stack import Stack, to_int

__all__ = ["AdmittedTransactionExecutor", "FastPragueComputation", "FastPragueState"]

_NO_PRECOMPILE = object()
_WORD = 1 << 256
_INT_MAX = (1 << 255) - 1


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


class FastPragueComputation(PragueComputation):
    def __init__(self, state: Any, message: Any, transaction_context: Any) -> None:
        super().__init__(state, message, transaction_context)
        self.code = FastCodeStream(message.code)
        self._stack = FastStack()

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
                    precompile(computation)
                return computation
            _run(computation)
        return computation


# The opcodes `_run` executes itself, by mnemonic; anything else (and any of these whose
# table entry is not a plain fixed-gas opcode) goes through py-evm's own opcode object.
_INLINE = frozenset(
    ["ADD", "MUL", "SUB", "DIV", "LT", "GT", "SLT", "SGT", "EQ", "ISZERO", "AND", "OR"]
    + ["XOR", "NOT", "SHL", "SHR", "CALLVALUE", "CALLDATALOAD", "CALLDATASIZE", "POP"]
    + ["MLOAD", "MSTORE", "JUMP", "JUMPI", "JUMPDEST"]
    + [f"PUSH{n}" for n in range(33)]
    + [f"DUP{n}" for n in range(1, 17)]
    + [f"SWAP{n}" for n in range(1, 17)]
)
_NOT_INLINE = -1
_costs_by_table: dict[int, list[int]] = {}


def _inline_costs(lookup: dict[int, Any]) -> list[int]:
    """Per opcode byte: its fixed gas cost if `_run` executes it inline, else -1."""
    costs = _costs_by_table.get(id(lookup))
    if costs is None:
        costs = [_NOT_INLINE] * 256
        for op, fn in lookup.items():
            if type(fn) is _FastOpcode and fn.mnemonic in _INLINE:
                costs[op] = fn.gas_cost
        _costs_by_table[id(lookup)] = costs
    return costs


@lru_cache(maxsize=512)
def _jump_destinations(code: bytes) -> frozenset[int]:
    return frozenset(p for p in _opcode_positions(code) if code[p] == JUMPDEST)


def _word(value: int | bytes) -> int:
    return value if type(value) is int else int.from_bytes(value, "big")  # type: ignore[arg-type]


def _run(computation: Any) -> None:
    """Execute the frame's code. The hot opcodes run inline on local copies of the program
    counter and the gas left (written back before anything else sees them); the rest run
    as py-evm's opcode objects. Stack values pushed here are ints; py-evm's own opcodes
    may push bytes, so every pop goes through `_word`."""
    code = computation.code
    raw: bytes = code._raw_code_bytes
    n = len(raw)
    jumpdests = _jump_destinations(bytes(raw))
    stack: list[Any] = computation._stack.values
    meter = computation._gas_meter
    lookup = computation.opcodes
    costs = _inline_costs(lookup)
    pc: int = code.program_counter
    gas: int = meter.gas_remaining  # -1 while py-evm's opcode owns the meter
    try:
        while pc < n:
            op = raw[pc]
            cost = costs[op]
            if cost < 0:
                code.program_counter = pc + 1
                meter.gas_remaining, gas = gas, -1
                fn = lookup.get(op) or InvalidOpcode(op)
                try:
                    fn(computation=computation)
                except Halt:
                    return
                pc, gas = code.program_counter, meter.gas_remaining
                continue
            if cost > gas:
                raise OutOfGas(f"Out of gas: Needed {cost} - Remaining {gas}")
            gas -= cost
            pc += 1
            if PUSH0 <= op <= PUSH32:
                if len(stack) > 1023:
                    raise FullStack("Stack limit reached")
                end = pc + op - PUSH0
                data = raw[pc:end]
                if end > n:
                    data = data.ljust(op - PUSH0, b"\x00")
                stack.append(int.from_bytes(data, "big"))
                pc = end
            elif op >= DUP1:
                if op < SWAP1:
                    depth = op - DUP1 + 1
                    if len(stack) < depth:
                        raise InsufficientStack(f"Insufficient stack items for DUP{depth}")
                    if len(stack) > 1023:
                        raise FullStack("Stack limit reached")
                    stack.append(stack[-depth])
                else:
                    depth = op - SWAP1 + 2
                    if len(stack) < depth:
                        raise InsufficientStack(f"Insufficient stack items for SWAP{depth - 1}")
                    stack[-1], stack[-depth] = stack[-depth], stack[-1]
            elif op == JUMPDEST:
                pass
            elif op == POP:
                if not stack:
                    raise InsufficientStack("Wanted 1 stack item, had none")
                stack.pop()
            elif op == JUMP or op == JUMPI:
                if len(stack) < op - JUMP + 1:
                    raise InsufficientStack(f"Wanted {op - JUMP + 1} stack items")
                target = _word(stack.pop())
                if op == JUMP or _word(stack.pop()):
                    if target not in jumpdests:
                        raise InvalidJumpDestination("Invalid Jump Destination")
                    pc = target
            elif op == MSTORE or op == MLOAD:
                if len(stack) < op - MLOAD + 1:
                    raise InsufficientStack(f"Wanted {op - MLOAD + 1} stack items")
                start = _word(stack.pop())
                value = stack.pop() if op == MSTORE else None
                if start + 32 > len(computation._memory._bytes):
                    meter.gas_remaining = gas
                    computation.extend_memory(start, 32)
                    gas = meter.gas_remaining
                memory = computation._memory._bytes
                if value is None:
                    stack.append(int.from_bytes(memory[start : start + 32], "big"))
                elif type(value) is int:
                    memory[start : start + 32] = value.to_bytes(32, "big")
                else:
                    memory[start : start + 32] = value.rjust(32, b"\x00")[-32:]
            elif op <= SHR:
                _binary(op, stack)
            elif op == CALLDATALOAD:
                if not stack:
                    raise InsufficientStack("Wanted 1 stack item, had none")
                start = _word(stack.pop())
                word = computation.msg.data_as_bytes[start : start + 32]
                stack.append(int.from_bytes(word.ljust(32, b"\x00"), "big"))
            elif op == CALLDATASIZE or op == CALLVALUE:
                if len(stack) > 1023:
                    raise FullStack("Stack limit reached")
                msg = computation.msg
                stack.append(len(msg.data) if op == CALLDATASIZE else msg.value)
            else:  # pragma: no cover - _INLINE and this dispatch list the same opcodes
                raise AssertionError(f"opcode 0x{op:02x} marked inline but not handled")
    except BaseException:
        if gas >= 0:
            meter.gas_remaining = gas
        raise
    code.program_counter = pc + 1
    meter.gas_remaining = gas


def _binary(op: int, stack: list[Any]) -> None:
    """Arithmetic, comparison and bitwise opcodes (0x01..0x1c) that `_run` inlines."""
    if op == ISZERO or op == NOT:
        if not stack:
            raise InsufficientStack("Wanted 1 stack item, had none")
        a = _word(stack.pop())
        stack.append((1 if a == 0 else 0) if op == ISZERO else UINT_256_MAX - a)
        return
    if len(stack) < 2:
        raise InsufficientStack(f"Wanted 2 stack items, only had {len(stack)}")
    a = _word(stack.pop())
    b = _word(stack.pop())
    if op == ADD:
        r = (a + b) & UINT_256_MAX
    elif op == AND:
        r = a & b
    elif op == SUB:
        r = (a - b) & UINT_256_MAX
    elif op == SHL:
        r = 0 if a >= 256 else (b << a) & UINT_256_MAX
    elif op == EQ:
        r = 1 if a == b else 0
    elif op == GT:
        r = 1 if a > b else 0
    elif op == LT:
        r = 1 if a < b else 0
    elif op == SHR:
        r = 0 if a >= 256 else b >> a
    elif op == SLT or op == SGT:
        sa = a - _WORD if a > _INT_MAX else a
        sb = b - _WORD if b > _INT_MAX else b
        r = 1 if (sa < sb if op == SLT else sa > sb) else 0
    elif op == OR:
        r = a | b
    elif op == XOR:
        r = a ^ b
    elif op == MUL:
        r = (a * b) & UINT_256_MAX
    elif op == DIV:
        r = 0 if b == 0 else a // b
    else:  # pragma: no cover
        raise AssertionError(f"opcode 0x{op:02x} marked inline but not handled")
    stack.append(r)


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


class FastPragueState(PragueState):
    computation_class = FastPragueComputation
    transaction_executor_class = AdmittedTransactionExecutor
