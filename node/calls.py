"""What eth_call and eth_estimateGas share, whichever engine runs the message.

`estimate` is the gas estimate over any `Run` (gas → result): py-evm's (`node.evm`) and
revm's (`node.revm_calls`) give it their one-message runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from medledger.node.engine import calldata_floor
from medledger.node.errors import NodeError

__all__ = ["CallResult", "Run", "TimeBudgetExceeded", "estimate"]

BINARY_SEARCH_STEP = 1_000  # gas: the search stops once the bounds are this close


@dataclass(frozen=True, slots=True)
class CallResult:
    success: bool
    output: bytes
    gas_used: int
    error: str


class TimeBudgetExceeded(NodeError):
    """A message run under a time budget ran past it (not an EVM error: nothing catches
    it on the way out of py-evm)."""


Run = Callable[[int], CallResult]  # the message run with this much gas


def estimate(run: Run, *, data: bytes, gas_cap: int) -> CallResult:
    """The gas a transaction needs: one run at the cap, then a check at the measured gas
    plus the 1/64 that calls withhold; a binary search only if that check fails; at least
    the EIP-7623 calldata floor, below which admission refuses the transaction."""
    first = run(gas_cap)
    if not first.success:
        return first
    floor = calldata_floor(data)
    guess = min(gas_cap, first.gas_used * 64 // 63 + 2_300)
    if run(guess).success:
        return CallResult(True, first.output, max(guess, floor), "")
    low, high = first.gas_used, gas_cap
    while high - low > BINARY_SEARCH_STEP:
        mid = (low + high) // 2
        if run(mid).success:
            high = mid
        else:
            low = mid
    return CallResult(True, first.output, max(high, floor), "")
