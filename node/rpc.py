"""JSON-RPC 2.0 methods: the standard `eth_*`/`net_*`/`web3_*` set and `medledger_*`.

`Rpc.handle(body)` takes the raw HTTP body and returns the response body (or None for
notifications only). Batches are answered in order. Errors use the standard codes with a
message naming the reason; a revert is code 3 with the revert data in `data`, which is
how web3.py raises `ContractCustomError` and the SDK decodes custom errors. As in
go-ethereum, a parameter that is no valid tag, number, hash or quantity (or a wrong count
of them) is -32602, while a valid one naming no block answers null from the block lookups
and -32000 "header not found" from the methods that read state at it.

Bounds: the body is parsed by `sdk.bounded_json` (nesting depth, value count); a batch
holds at most `MAX_BATCH` requests, and once its answers pass `MAX_ANSWER_BYTES` the rest
are refused unexecuted; parameters that size work are bounded in `node.params`;
`eth_call` and `eth_estimateGas` run on the configured engine (`node.revm_calls` for revm,
`node.evm` for py-evm) with at most `max_tx_gas` gas, within
`call_time_budget_ms` of wall time and at most `max_concurrent_calls` at once. A refusal
by a bound is an error whose `data` is {"reason": `node.errors.Reason`, "limit": n}.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from medledger.node import evm, evm_reads, records
from medledger.node.chain import ChainView
from medledger.node.config import NodeConfig
from medledger.node.engine import UnsupportedByEngine
from medledger.node.errors import (
    EXECUTION_REVERTED,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    LIMIT_EXCEEDED,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    READ_ONLY,
    SERVER_ERROR,
    Reason,
    Refused,
    RpcError,
)
from medledger.node.intake import Intake, transaction_too_large
from medledger.node.params import (
    address,
    block_hash,
    block_number,
    block_tag,
    boolean,
    data,
    integer,
    log_filter,
    percentiles,
    tx_hash,
)
from medledger.node.revm_calls import RevmCalls
from medledger.node.store import Snapshot
from medledger.sdk import bounded_json

__all__ = ["MAX_BODY_BYTES", "Rpc"]

log = logging.getLogger("medledger.node.rpc")
CLIENT_VERSION = "medledger/0.1.0/py-evm-0.12"
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 32  # a request nests 5 deep at most (batch, request, params, filter, topics)
MAX_ITEMS = 50_000  # values in arrays and objects of one body
MAX_BATCH = 1_000  # requests in one batch
MAX_ANSWER_BYTES = 32 * 1024 * 1024  # a batch's answers; the first is always given whole
MAX_FEE_HISTORY_BLOCKS = 1_024
_JSON_REASONS = {
    "too_large": Reason.BODY_TOO_LARGE,
    "too_deep": Reason.TOO_DEEP,
    "too_many_items": Reason.TOO_MANY_ITEMS,
    "not_json": Reason.NOT_JSON,
}


class Rpc:
    def __init__(
        self,
        chain: ChainView,
        config: NodeConfig,
        *,
        submit: Callable[[bytes], bytes] | None,
        pending_nonce: Callable[[bytes], int] | None,
        status: Callable[[], dict[str, Any]],
        tx_status: Callable[[bytes], dict[str, str] | None] | None = None,
    ) -> None:
        self.chain = chain
        self.config = config
        self._submit = submit
        self._pending_nonce = pending_nonce
        self._status = status
        self._tx_status = tx_status
        self._calls = threading.BoundedSemaphore(config.max_concurrent_calls)
        self._revm = RevmCalls() if config.engine == "revm" else None
        self.methods: dict[str, Callable[..., Any]] = {
            name: getattr(self, name)
            for name in dir(self)
            if name.startswith(("eth_", "net_", "web3_", "debug_", "medledger_"))
        }

    @classmethod
    def for_sequencer(cls, chain: ChainView, config: NodeConfig, intake: Intake) -> Rpc:
        """The RPC of a sequencer whose transactions go to `intake`."""
        return cls(
            chain,
            config,
            submit=intake.submit,
            pending_nonce=intake.pending_nonce,
            tx_status=intake.transaction_status,
            status=intake.status,
        )

    # ------------------------------------------------------------ envelope

    def handle(self, body: bytes) -> bytes | None:
        try:
            request = bounded_json.loads(
                body,
                max_bytes=MAX_BODY_BYTES,
                max_depth=MAX_DEPTH,
                max_items=MAX_ITEMS,
            )
        except bounded_json.BoundedJsonError as exc:
            reason = _JSON_REASONS.get(exc.code, Reason.NOT_JSON)
            return _dump(_error(None, Refused(PARSE_ERROR, reason, f"parse error: {exc}")))
        if isinstance(request, list):
            return self._batch(request)
        answer = self._one(request)
        return None if answer is None else _dump(answer)

    def _batch(self, requests: list[Any]) -> bytes | None:
        if not requests:
            return _dump(_error(None, RpcError(INVALID_REQUEST, "empty batch")))
        if len(requests) > MAX_BATCH:
            message = f"a batch holds {len(requests):,} requests; at most {MAX_BATCH:,} are served"
            refusal = Refused(INVALID_REQUEST, Reason.BATCH_TOO_LARGE, message, limit=MAX_BATCH)
            return _dump(_error(None, refusal))
        parts: list[bytes] = []
        size = 0
        for request in requests:
            if size > MAX_ANSWER_BYTES:
                answer = _answer_too_large(request)
            else:
                answer = self._one(request)
            if answer is not None:
                part = _dump(answer)
                size += len(part)
                parts.append(part)
        return b"[" + b",".join(parts) + b"]" if parts else None

    def _one(self, request: Any) -> dict[str, Any] | None:
        if not isinstance(request, dict):
            return _error(None, RpcError(INVALID_REQUEST, "a request must be a JSON object"))
        rid = request.get("id")
        if request.get("jsonrpc") != "2.0":
            return _error(rid, RpcError(INVALID_REQUEST, 'jsonrpc must be "2.0"'))
        method = request.get("method")
        if not isinstance(method, str):
            return _error(rid, RpcError(INVALID_REQUEST, "method must be a string"))
        params = request.get("params", [])
        if not isinstance(params, list):
            return _error(rid, RpcError(INVALID_PARAMS, "params must be an array"))
        fn = self.methods.get(method)
        try:
            if fn is None:
                raise RpcError(
                    METHOD_NOT_FOUND, f"the method {method} does not exist/is not available"
                )
            result = fn(*params) if _arity_ok(fn, params) else _bad_arity(fn, params)
        except RpcError as exc:
            answer = _error(rid, exc)
        except Exception as exc:
            log.exception("internal error in %s", method)
            answer = _error(rid, RpcError(INTERNAL_ERROR, f"internal error: {exc}"))
        else:
            answer = {"jsonrpc": "2.0", "id": rid, "result": result}
        return None if "id" not in request else answer

    # ------------------------------------------------------------ helpers

    def _header(self, snap: Snapshot, tag: Any) -> Any:
        """The header `tag` names. A tag that is no block number, tag or hash is invalid
        params (-32602); a valid one this chain has no block for is go-ethereum's -32000
        "header not found"."""
        kind, value = block_tag(tag)
        header = self._find(snap, kind, value)
        if header is None:
            if kind == "hash":
                raise RpcError(SERVER_ERROR, f"header for hash not found: 0x{value.hex()}")
            head = evm_reads.head_number(snap)
            raise RpcError(SERVER_ERROR, f"header not found: block {value} (the head is {head})")
        return header

    def _find(self, snap: Snapshot, kind: str, value: Any) -> Any | None:
        """The header of a parsed block tag (`block_tag`), or None if there is no such block."""
        if kind == "hash":
            return evm_reads.header_by_hash(snap, value)
        return evm_reads.header_by_number(snap, self._number(value, snap))

    def _number(self, value: int | str, snap: Snapshot) -> int:
        """A block number; tags resolve against the snapshot's own head, so a block
        committed after the snapshot was opened is never asked for."""
        if value in ("latest", "pending", "safe", "finalized"):
            return evm_reads.head_number(snap)
        if value == "earliest":
            return 0
        assert isinstance(value, int)
        return value

    def _block(self, kind: str, value: Any, full: Any) -> dict[str, Any] | None:
        """A block by a parsed tag, or None (as go-ethereum) if there is no such block."""
        full = boolean(full, "full (the second argument)")
        with self.chain.snapshot() as snap:
            header = self._find(snap, kind, value)
            if header is None:
                return None
            block = evm_reads.header_json(header)
            hashes = records.Reader(snap).block_transaction_hashes(header.block_number)
            if full:
                reader = records.Reader(snap)
                block["transactions"] = [reader.transaction(bytes.fromhex(h[2:])) for h in hashes]
            else:
                block["transactions"] = hashes
        return block

    def _message(self, tx: Any) -> dict[str, Any]:
        if not isinstance(tx, dict):
            raise RpcError(INVALID_PARAMS, "the call object must be a JSON object")
        payload = tx.get("input", tx.get("data", "0x"))
        return {
            "sender": address(tx["from"]) if tx.get("from") else bytes(20),
            "to": address(tx["to"]) if tx.get("to") else b"",
            "data": data(payload),
            "value": integer(tx.get("value", "0x0"), "value"),
        }

    def _execute(self, tx: Any, tag: Any, *, estimate: bool) -> evm.CallResult:
        """Run a call (or estimate its gas) within the call budgets: at most `max_tx_gas`
        gas, `call_time_budget_ms` of wall time, `max_concurrent_calls` at once."""
        message = self._message(tx)
        cap = min(self.config.max_tx_gas, self.config.block_gas_limit)
        gas = cap if estimate else min(integer(tx.get("gas", hex(cap)), "gas"), cap)
        seconds = self.config.call_time_budget_ms / 1000
        if not self._calls.acquire(timeout=seconds):
            limit = self.config.max_concurrent_calls
            raise Refused(
                LIMIT_EXCEEDED,
                Reason.BUSY,
                f"{limit} calls are already running (the limit); retry shortly",
                limit=limit,
            )
        try:
            with self.chain.snapshot() as snap:
                header = self._header(snap, tag)
                result = self._run(snap, header, message, gas, seconds, estimate=estimate)
        except evm.TimeBudgetExceeded as exc:
            raise Refused(
                LIMIT_EXCEEDED,
                Reason.CALL_TIME,
                f"the call exceeds the time budget of {self.config.call_time_budget_ms} ms "
                f"of eth_call and eth_estimateGas (their gas cap is {cap})",
                limit=self.config.call_time_budget_ms,
            ) from exc
        finally:
            self._calls.release()
        if not result.success:
            if result.output or result.error == "execution reverted":
                raise RpcError(EXECUTION_REVERTED, "execution reverted", "0x" + result.output.hex())
            capped = f" (out of the {gas} gas a call may use)" if result.gas_used >= gas else ""
            raise RpcError(EXECUTION_REVERTED, f"execution failed: {result.error}{capped}")
        return result

    def _run(
        self,
        snap: Snapshot,
        header: Any,
        message: dict[str, Any],
        gas: int,
        seconds: float,
        *,
        estimate: bool,
    ) -> evm.CallResult:
        """The message on the configured engine: revm, or py-evm (also for what revm
        leaves to it, `node.revm_calls`)."""
        timestamp = max(int(time.time()), int(header.timestamp))
        chain_id = self.chain.chain_id
        deadline = time.monotonic() + seconds
        if self._revm is not None:
            at: dict[str, Any] = {"chain_id": chain_id, "timestamp": timestamp, "seconds": seconds}
            try:
                if estimate:
                    return self._revm.estimate_gas(snap, header, **at, **message, gas_cap=gas)
                return self._revm.call(snap, header, **at, **message, gas=gas)
            except UnsupportedByEngine as exc:
                log.debug("eth_call on py-evm: %s", exc)
            seconds = deadline - time.monotonic()  # what revm's runs left of the budget
            if seconds <= 0:
                raise evm.TimeBudgetExceeded("the message ran past its time budget")
        on = {"db": snap, "head_hash": header.hash, "chain_id": chain_id, "timestamp": timestamp}
        if estimate:
            return evm.estimate_gas(**on, **message, gas_cap=gas, seconds=seconds)
        return evm.call(**on, **message, gas=gas, seconds=seconds)

    # ------------------------------------------------------------ web3 / net

    def web3_clientVersion(self) -> str:
        return CLIENT_VERSION

    def net_version(self) -> str:
        return str(self.chain.chain_id)

    def net_listening(self) -> bool:
        return True

    def net_peerCount(self) -> str:
        return "0x0"

    # ------------------------------------------------------------ eth

    def eth_chainId(self) -> str:
        return hex(self.chain.chain_id)

    def eth_syncing(self) -> Any:
        status = self._status()
        lag = status.get("lag_blocks", 0)
        if not lag:
            return False
        head = self.chain.head_number
        return {
            "startingBlock": "0x0",
            "currentBlock": hex(head),
            "highestBlock": hex(head + lag),
        }

    def eth_accounts(self) -> list[str]:
        return []

    def eth_blockNumber(self) -> str:
        return hex(self.chain.head_number)

    def eth_gasPrice(self) -> str:
        return "0x0"

    def eth_maxPriorityFeePerGas(self) -> str:
        return "0x0"

    def eth_blobBaseFee(self) -> str:
        return "0x0"

    def eth_feeHistory(self, count: Any, newest: Any, rewards: Any = None) -> dict[str, Any]:
        wanted = percentiles(rewards)
        n = max(1, min(integer(count, "blockCount"), MAX_FEE_HISTORY_BLOCKS))
        ratios = []
        with self.chain.snapshot() as snap:
            head = evm_reads.head_number(snap)
            last = min(self._number(block_number(newest, "newestBlock"), snap), head)
            first = max(0, last - n + 1)
            span = last - first + 1
            for number in range(first, last + 1):
                header = evm_reads.header_by_number(snap, number)
                ratios.append(header.gas_used / header.gas_limit if header else 0.0)
        result: dict[str, Any] = {
            "oldestBlock": hex(first),
            "baseFeePerGas": ["0x0"] * (span + 1),
            "gasUsedRatio": ratios,
        }
        if wanted:
            result["reward"] = [["0x0"] * len(wanted) for _ in range(span)]
        return result

    def eth_getBlockByNumber(self, tag: Any, full: Any) -> dict[str, Any] | None:
        return self._block("number", block_number(tag, "block"), full)

    def eth_getBlockByHash(self, value: Any, full: Any) -> dict[str, Any] | None:
        return self._block("hash", block_hash(value), full)

    def eth_getBlockTransactionCountByNumber(self, tag: Any) -> str | None:
        block = self._block("number", block_number(tag, "block"), False)
        return None if block is None else hex(len(block["transactions"]))

    def eth_getTransactionByHash(self, value: Any) -> RawJson | None:
        with self.chain.snapshot() as snap:
            raw = records.Reader(snap).raw_transaction(tx_hash(value))
        return None if raw is None else RawJson(raw)

    def eth_getTransactionReceipt(self, value: Any) -> RawJson | None:
        with self.chain.snapshot() as snap:
            raw = records.Reader(snap).raw_receipt(tx_hash(value))
        return None if raw is None else RawJson(raw)

    def eth_getTransactionCount(self, who: Any, tag: Any = "latest") -> str:
        account = address(who)
        if tag == "pending" and self._pending_nonce is not None:
            return hex(self._pending_nonce(account))
        with self.chain.snapshot() as snap:
            return hex(evm_reads.account(snap, self._header(snap, tag), account)[1])

    def eth_getBalance(self, who: Any, tag: Any = "latest") -> str:
        with self.chain.snapshot() as snap:
            return hex(evm_reads.account(snap, self._header(snap, tag), address(who))[0])

    def eth_getCode(self, who: Any, tag: Any = "latest") -> str:
        with self.chain.snapshot() as snap:
            code = evm_reads.account(snap, self._header(snap, tag), address(who))[2]
        return "0x" + code.hex()

    def eth_getStorageAt(self, who: Any, slot: Any, tag: Any = "latest") -> str:
        with self.chain.snapshot() as snap:
            value = evm_reads.storage_at(
                snap, self._header(snap, tag), address(who), integer(slot, "slot")
            )
        return "0x" + value.to_bytes(32, "big").hex()

    def eth_sendRawTransaction(self, raw: Any) -> str:
        if self._submit is None:
            raise RpcError(
                READ_ONLY,
                "this node is a read-only follower: send transactions to the sequencer",
            )
        if isinstance(raw, str) and len(raw) > 2 + 2 * self.config.max_tx_bytes:
            raise transaction_too_large((len(raw) - 2) // 2, self.config.max_tx_bytes)
        return "0x" + self._submit(data(raw, "raw transaction")).hex()

    def eth_call(self, tx: Any, tag: Any = "latest") -> str:
        return "0x" + self._execute(tx, tag, estimate=False).output.hex()

    def eth_estimateGas(self, tx: Any, tag: Any = "latest") -> str:
        return hex(self._execute(tx, tag, estimate=True).gas_used)

    def eth_getLogs(self, criteria: Any) -> list[Any]:
        spec = log_filter(criteria)
        with self.chain.snapshot() as snap:
            if spec.block_hash is not None:
                header = evm_reads.header_by_hash(snap, spec.block_hash)
                if header is None:
                    raise RpcError(SERVER_ERROR, f"unknown block 0x{spec.block_hash.hex()}")
                first = last = int(header.block_number)
            else:
                first = self._number(spec.from_block, snap)
                last = self._number(spec.to_block, snap)
            if last - first + 1 > self.config.max_log_range:
                raise RpcError(
                    LIMIT_EXCEEDED,
                    f"block range {first}..{last} spans more than "
                    f"{self.config.max_log_range} blocks; query smaller ranges",
                )
            last = min(last, evm_reads.head_number(snap))
            if first > last:
                return []
            try:
                return records.Reader(snap).logs(
                    first, last, spec.filter, limit=self.config.max_log_results
                )
            except OverflowError as exc:
                raise RpcError(
                    LIMIT_EXCEEDED,
                    f"query returned more than {self.config.max_log_results} logs; "
                    "query smaller ranges",
                ) from exc

    # ------------------------------------------------------------ debug / medledger

    def debug_getRawBlock(self, tag: Any) -> str:
        with self.chain.snapshot() as snap:
            return "0x" + evm_reads.raw_block(snap, self._header(snap, tag)).hex()

    def medledger_getSeal(self, tag: Any) -> dict[str, Any] | None:
        kind, value = block_tag(tag)
        with self.chain.snapshot() as snap:
            header = self._find(snap, kind, value)
            if header is None:
                return None
            seal = records.Reader(snap).seal(header.hash)
        return {
            "blockNumber": hex(header.block_number),
            "blockHash": "0x" + header.hash.hex(),
            "seal": None if seal is None else "0x" + seal.hex(),
            "signer": "0x" + header.coinbase.hex() if header.block_number else None,
        }

    def medledger_getTransactionStatus(self, value: Any) -> dict[str, str]:
        """mined (with its block), pending, dropped (with the reason) or unknown."""
        key = tx_hash(value)
        with self.chain.snapshot() as snap:
            receipt = records.Reader(snap).receipt(key)
        if receipt is not None:
            return {"status": "mined", "blockNumber": receipt["blockNumber"]}
        known = self._tx_status(key) if self._tx_status is not None else None
        return known or {"status": "unknown"}

    def medledger_authorities(self) -> list[str]:
        return list(self.config.authorities)

    def medledger_status(self) -> dict[str, Any]:
        status = {
            "chainId": self.chain.chain_id,
            "genesisHash": "0x" + self.chain.genesis_hash.hex(),
            "headNumber": self.chain.head_number,
            "headHash": "0x" + self.chain.head_hash.hex(),
            "contracts": {k: "0x" + v.hex() for k, v in self.chain.contracts.items()},
            "authorities": list(self.config.authorities),
        }
        status.update(self._status())
        return status


def _arity_ok(fn: Callable[..., Any], params: list[Any]) -> bool:
    code = fn.__code__
    required = code.co_argcount - 1 - len(fn.__defaults__ or ())
    return required <= len(params) <= code.co_argcount - 1


def _bad_arity(fn: Callable[..., Any], params: list[Any]) -> Any:
    """go-ethereum's words for too few or too many arguments."""
    most = fn.__code__.co_argcount - 1
    if len(params) > most:
        raise RpcError(INVALID_PARAMS, f"too many arguments, want at most {most}")
    raise RpcError(INVALID_PARAMS, f"missing value for required argument {len(params)}")


def _error(rid: Any, exc: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "error": exc.to_json()}


def _answer_too_large(request: Any) -> dict[str, Any] | None:
    """The answer to a batch's request left unexecuted: the answers before it passed
    `MAX_ANSWER_BYTES`."""
    if not isinstance(request, dict) or "id" not in request:
        return None if isinstance(request, dict) else _error(None, _TOO_LARGE)
    return _error(request["id"], _TOO_LARGE)


_TOO_LARGE = Refused(
    LIMIT_EXCEEDED,
    Reason.ANSWER_TOO_LARGE,
    f"the batch's answers passed {MAX_ANSWER_BYTES:,} bytes; send the rest again in another batch",
    limit=MAX_ANSWER_BYTES,
)


class RawJson(bytes):
    """A result that is already JSON (a stored record): spliced in, not re-encoded."""


def _dump(answer: dict[str, Any]) -> bytes:
    result = answer.get("result")
    if isinstance(result, RawJson):
        head = json.dumps({"jsonrpc": "2.0", "id": answer["id"]}, separators=(",", ":"))
        return head[:-1].encode() + b',"result":' + result + b"}"
    return json.dumps(answer, separators=(",", ":")).encode()
