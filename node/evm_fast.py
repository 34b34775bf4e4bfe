"""A faster opcode loop for py-evm's Prague computation (same semantics, less work).

py-evm runs every opcode through `Opcode.__call__` → `computation.consume_gas` →
`GasMeter.consume_gas` (with a debug-logging check) before the opcode's logic. For the plain
opcodes (`_FastOpcode`: a logic function and a fixed gas cost) this loop charges the gas
inline and calls the logic directly; every other opcode (CALL, SSTORE, LOG, ...) goes
through its own `__call__` as before. Out-of-gas raises the same `OutOfGas`, and `Halt`
ends the frame as before. Jump-destination analysis is done once per distinct contract
code (py-evm redoes it, 32 bytes back per jump, in every call frame), and the stack's
hottest operations are written out.
`tests/node/test_evm_fast.py` checks that blocks built with this loop and with py-evm's own
are identical. (py-evm's per-opcode debug2 logging is not emitted by this loop.)
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from eth.constants import UINT_256_MAX
from eth.exceptions import FullStack, Halt, InsufficientStack, OutOfGas
from eth.vm.code_stream import CodeStream
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.forks.prague.state import PragueState
from eth.vm.logic.invalid import InvalidOpcode
from eth.vm.opcode import _FastOpcode
from eth.vm.stack import Stack, to_int

__all__ = ["FastPragueComputation", "FastPragueState"]

_NO_PRECOMPILE = object()
PUSH1, PUSH32 = 0x60, 0x7F


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


def _run(computation: Any) -> None:
    lookup = computation.opcodes
    meter = computation._gas_meter
    fast = _FastOpcode
    for opcode in computation.code:
        fn = lookup.get(opcode)
        if fn is None:
            fn = InvalidOpcode(opcode)
        try:
            if type(fn) is fast:
                cost = fn.gas_cost
                remaining = meter.gas_remaining
                if cost > remaining:
                    raise OutOfGas(
                        f"Out of gas: Needed {cost} - Remaining {remaining} - Reason: {fn.mnemonic}"
                    )
                meter.gas_remaining = remaining - cost
                fn.logic_fn(computation)
            else:
                fn(computation=computation)
        except Halt:
            break


class FastPragueState(PragueState):
    computation_class = FastPragueComputation
