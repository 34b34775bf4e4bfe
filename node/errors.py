"""The node's exception tree (under the product's root, `sdk.errors.MedLedgerError`).

NodeError
 ├── ConfigError        a genesis/config file that is missing, malformed or inconsistent
 ├── StoreError         the LMDB store cannot be opened or written
 ├── RpcError           a JSON-RPC error answer (code, message, optional data)
 │    ├── Refused             a bound or a rule refused the request (data names the `Reason`)
 │    ├── AdmissionError      the sender may not transact (code -32010)
 │    └── BackpressureError   the mempool is full (code -32011)
 ├── SealError          a block seal that is malformed or not from an authority
 └── DivergenceError    the follower re-executed a block and got a different result
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from medledger.sdk.errors import MedLedgerError

# JSON-RPC 2.0 standard codes and ours.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
EXECUTION_REVERTED = 3
SERVER_ERROR = (
    -32000
)  # go-ethereum's code for a valid request it cannot answer ("header not found")
TX_REJECTED = -32003
LIMIT_EXCEEDED = -32005
NOT_ADMITTED = -32010
MEMPOOL_FULL = -32011
READ_ONLY = -32012


class NodeError(MedLedgerError):
    """Base of every error the node raises on purpose."""


class ConfigError(NodeError):
    """A node or genesis configuration that cannot be used."""


class StoreError(NodeError):
    """The durable store failed."""


class RpcError(NodeError):
    """An error that becomes a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class Reason(StrEnum):
    """Why a request was refused: `data.reason` of the error answer (machine-readable)."""

    # the HTTP envelope
    MALFORMED_HTTP = "malformed_http"
    CONTENT_TYPE = "content_type"  # a POST that is not application/json
    CONTENT_LENGTH = "content_length"  # missing, malformed or negative Content-Length
    BODY_TOO_LARGE = "body_too_large"
    NOT_JSON = "not_json"
    TOO_DEEP = "too_deep"  # arrays and objects nested past the bound
    TOO_MANY_ITEMS = "too_many_items"
    BATCH_TOO_LARGE = "batch_too_large"  # too many requests in one batch
    ANSWER_TOO_LARGE = "answer_too_large"  # a batch's answers past the byte bound
    BUSY = "busy"  # every connection (or call slot) is working
    TOO_MANY_SUBSCRIPTIONS = "too_many_subscriptions"  # on one WebSocket connection
    # parameters that size work or output
    PARAM_TOO_LARGE = "param_too_large"
    CALL_TIME = "call_time"  # eth_call/eth_estimateGas ran past its wall-time budget
    # admission
    TX_SIZE = "tx_size"
    TX_TYPE = "tx_type"
    TX_GAS = "tx_gas"
    CALLDATA_FLOOR = "calldata_floor"  # a gas limit below EIP-7623's floor (invalid in Prague)
    ACCESS_LIST = "access_list"  # a non-empty access list (types 1 and 2)
    CONTRACT_CREATION = "contract_creation"
    PRECOMPILE = "precompile"  # a transaction sent straight to a precompiled contract


class Refused(RpcError):
    """A request refused by a bound or a rule; `data` is {"reason": ..., "limit": ...}."""

    def __init__(self, code: int, reason: Reason, message: str, *, limit: int | None = None):
        data: dict[str, Any] = {"reason": reason.value}
        if limit is not None:
            data["limit"] = limit
        super().__init__(code, message, data)
        self.reason = reason
        self.limit = limit


class AdmissionError(RpcError):
    """The sender is not allowed to send transactions."""

    def __init__(self, message: str) -> None:
        super().__init__(NOT_ADMITTED, message)


class BackpressureError(RpcError):
    """The mempool is full; retry later."""

    def __init__(self, message: str) -> None:
        super().__init__(MEMPOOL_FULL, message)


class SealError(NodeError):
    """A seal that does not verify against the authority set."""


class DivergenceError(NodeError):
    """Re-execution disagrees with the block the sequencer published."""

    def __init__(self, block_number: int, field: str, expected: str, actual: str) -> None:
        super().__init__(
            f"block {block_number}: {field} diverged "
            f"(sequencer published {expected}, re-execution gave {actual})"
        )
        self.block_number = block_number
        self.field = field
        self.expected = expected
        self.actual = actual
