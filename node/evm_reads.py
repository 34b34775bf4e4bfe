"""py-evm objects in JSON-RPC shapes, and reads of accounts and headers for the RPC.

With `node.evm`, the only module that imports py-evm. Everything returned here is plain
JSON (hex strings), ready for the RPC layer and for the records written per block.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import rlp
from eth.abc import StateAPI
from eth.db.chain import ChainDB
from eth.exceptions import BlockNotFound, HeaderNotFound
from eth.vm.chain_context import ChainContext
from eth.vm.forks.prague.blocks import PragueBlock
from eth_typing import Address, BlockNumber, Hash32

from medledger.node.config import create_address
from medledger.node.engine import Log, Receipt
from medledger.node.evm import BuiltBlock, MedLedgerVM, chaindb_of

__all__ = [
    "account",
    "block_logs",
    "engine_receipts",
    "header_by_hash",
    "header_by_number",
    "head_hash",
    "head_number",
    "header_json",
    "raw_block",
    "receipt_records",
    "state_balance",
    "state_nonce",
    "storage_at",
    "transaction_records",
]


def _hex(value: int) -> str:
    return hex(value)


def _data(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def head_hash(db: Any) -> bytes:
    return bytes(chaindb_of(db).get_canonical_head().hash)


def head_number(db: Any) -> int:
    return int(chaindb_of(db).get_canonical_head().block_number)


def header_by_number(db: Any, number: int) -> Any | None:
    try:
        return chaindb_of(db).get_canonical_block_header_by_number(BlockNumber(number))
    except HeaderNotFound:
        return None


def header_by_hash(db: Any, block_hash: bytes) -> Any | None:
    try:
        return chaindb_of(db).get_block_header_by_hash(Hash32(block_hash))
    except (HeaderNotFound, BlockNotFound):
        return None


def header_json(header: Any) -> dict[str, Any]:
    return {
        "number": _hex(header.block_number),
        "hash": _data(header.hash),
        "parentHash": _data(header.parent_hash),
        "nonce": _data(header.nonce),
        "sha3Uncles": _data(header.uncles_hash),
        "logsBloom": "0x" + header.bloom.to_bytes(256, "big").hex(),
        "transactionsRoot": _data(header.transaction_root),
        "stateRoot": _data(header.state_root),
        "receiptsRoot": _data(header.receipt_root),
        "miner": _data(header.coinbase),
        "difficulty": "0x0",
        "totalDifficulty": "0x0",
        "extraData": _data(header.extra_data),
        "size": _hex(len(rlp.encode(header))),
        "gasLimit": _hex(header.gas_limit),
        "gasUsed": _hex(header.gas_used),
        "timestamp": _hex(header.timestamp),
        "mixHash": _data(header.mix_hash),
        "baseFeePerGas": _hex(header.base_fee_per_gas),
        "withdrawalsRoot": _data(header.withdrawals_root),
        "withdrawals": [],
        "blobGasUsed": _hex(header.blob_gas_used),
        "excessBlobGas": _hex(header.excess_blob_gas),
        "parentBeaconBlockRoot": _data(header.parent_beacon_block_root),
        "requestsHash": _data(header.requests_hash),
        "uncles": [],
    }


def raw_block(db: Any, header: Any) -> bytes:
    """The RLP of the full block (header, transactions, no uncles, no withdrawals)."""
    chaindb: ChainDB = chaindb_of(db)
    txs = chaindb.get_block_transactions(header, PragueBlock.transaction_builder)
    return bytes(rlp.encode(PragueBlock(header, transactions=txs, uncles=[], withdrawals=[])))


def transaction_records(
    *, number: int, block_hash: bytes, transactions: Sequence[Any], senders: Sequence[bytes]
) -> list[dict[str, Any]]:
    """eth_getTransactionByHash objects for every transaction (py-evm's signed transaction
    objects, with their senders) of a block."""
    out = []
    block_hash_hex, number_hex = _data(block_hash), _hex(number)
    for index, (tx, sender) in enumerate(zip(transactions, senders, strict=True)):
        record: dict[str, Any] = {
            "hash": _data(tx.hash),
            "type": _hex(tx.type_id or 0),
            "blockHash": block_hash_hex,
            "blockNumber": number_hex,
            "transactionIndex": _hex(index),
            "from": _data(sender),
            "to": _data(tx.to) if tx.to else None,
            "nonce": _hex(tx.nonce),
            "gas": _hex(tx.gas),
            "gasPrice": _hex(_gas_price(tx)),
            "value": _hex(tx.value),
            "input": _data(tx.data),
            "chainId": _hex(tx.chain_id) if getattr(tx, "chain_id", None) is not None else None,
            "v": _hex(tx.v if tx.type_id is None else tx.y_parity),
            "r": _hex(tx.r),
            "s": _hex(tx.s),
        }
        if tx.type_id is not None:
            record["yParity"] = _hex(tx.y_parity)
            record["accessList"] = [
                {
                    "address": _data(a),
                    "storageKeys": ["0x" + k.to_bytes(32, "big").hex() for k in s],
                }
                for a, s in tx.access_list
            ]
        if tx.type_id == 2:
            record["maxFeePerGas"] = _hex(tx.max_fee_per_gas)
            record["maxPriorityFeePerGas"] = _hex(tx.max_priority_fee_per_gas)
        out.append({k: v for k, v in record.items() if v is not None or k == "to"})
    return out


def _gas_price(tx: Any) -> int:
    # The base fee is zero, so the effective price is the priority fee (capped by max fee).
    if tx.type_id == 2:
        return int(min(tx.max_priority_fee_per_gas, tx.max_fee_per_gas))
    return int(tx.gas_price)


def engine_receipts(built: BuiltBlock) -> list[Receipt]:
    """A py-evm built block's receipts as the execution interface's `Receipt`s."""
    out = []
    previous = 0
    for tx, receipt, sender in zip(built.transactions, built.receipts, built.senders, strict=True):
        logs = tuple(
            Log(bytes(log.address), tuple(t.to_bytes(32, "big") for t in log.topics), log.data)
            for log in receipt.logs
        )
        out.append(
            Receipt(
                type_id=tx.type_id or 0,
                success=receipt.state_root == b"\x01",
                cumulative_gas_used=int(receipt.gas_used),
                gas_used=int(receipt.gas_used) - previous,
                logs=logs,
                bloom=int(receipt.bloom),
                contract_address=None if tx.to else create_address(sender, tx.nonce),
            )
        )
        previous = int(receipt.gas_used)
    return out


def receipt_records(
    *,
    number: int,
    block_hash: bytes,
    transactions: Sequence[Any],
    senders: Sequence[bytes],
    receipts: Sequence[Receipt],
) -> list[dict[str, Any]]:
    """eth_getTransactionReceipt objects, with block-wide log indices."""
    out = []
    block_hash_hex, number_hex = _data(block_hash), _hex(number)
    log_index = 0
    for index, (tx, receipt, sender) in enumerate(
        zip(transactions, receipts, senders, strict=True)
    ):
        logs = []
        for log in receipt.logs:
            logs.append(
                {
                    "address": _data(log.address),
                    "topics": [_data(topic) for topic in log.topics],
                    "data": _data(log.data),
                    "blockNumber": number_hex,
                    "blockHash": block_hash_hex,
                    "transactionHash": _data(tx.hash),
                    "transactionIndex": _hex(index),
                    "logIndex": _hex(log_index),
                    "removed": False,
                }
            )
            log_index += 1
        created = receipt.contract_address
        out.append(
            {
                "transactionHash": _data(tx.hash),
                "transactionIndex": _hex(index),
                "blockHash": block_hash_hex,
                "blockNumber": number_hex,
                "from": _data(sender),
                "to": _data(tx.to) if tx.to else None,
                "cumulativeGasUsed": _hex(receipt.cumulative_gas_used),
                "gasUsed": _hex(receipt.gas_used),
                "effectiveGasPrice": _hex(_gas_price(tx)),
                "contractAddress": None if created is None else _data(created),
                "logs": logs,
                "logsBloom": "0x" + receipt.bloom.to_bytes(256, "big").hex(),
                "status": "0x1" if receipt.success else "0x0",
                "type": _hex(tx.type_id or 0),
            }
        )
    return out


def block_logs(receipts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [log for receipt in receipts for log in receipt["logs"]]


def account(db: Any, header: Any, address: bytes) -> tuple[int, int, bytes]:
    """(balance, nonce, code) of `address` in the state after `header`."""
    state, who = _state(db, header), Address(address)
    return state.get_balance(who), state.get_nonce(who), bytes(state.get_code(who))


def storage_at(db: Any, header: Any, address: bytes, slot: int) -> int:
    return int(_state(db, header).get_storage(Address(address), slot))


def _state(db: Any, header: Any) -> StateAPI:
    return MedLedgerVM.build_state(chaindb_of(db).db, header, ChainContext(None))


def state_balance(db: Any, block_hash: bytes, address: bytes) -> int:
    """The balance of `address` after block `block_hash`."""
    header = chaindb_of(db).get_block_header_by_hash(Hash32(block_hash))
    return int(_state(db, header).get_balance(Address(address)))


def state_nonce(db: Any, block_hash: bytes, address: bytes) -> int:
    """The nonce of `address` after block `block_hash`."""
    header = chaindb_of(db).get_block_header_by_hash(Hash32(block_hash))
    return int(_state(db, header).get_nonce(Address(address)))
