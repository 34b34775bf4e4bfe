"""Signs transactions locally with a member key and sends them as raw transactions.

Nothing here relies on the node holding keys: the same path works against our node,
anvil, Besu or eth-tester.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.types import TxReceipt

__all__ = ["send_transaction"]


# One lock per sending account: threads of one process (API request handlers relaying with
# the same relayer key) must not read the same pending nonce before either has sent.
_SENDER_LOCKS: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)


def send_transaction(
    w3: Web3, account: LocalAccount, tx: dict[str, Any], *, timeout: float = 120.0
) -> TxReceipt:
    """Fill nonce/gas/fees if missing, sign with `account`, send, and wait for the receipt."""
    tx = dict(tx)
    tx.setdefault("from", account.address)
    tx.setdefault("chainId", w3.eth.chain_id)
    if "gas" not in tx:
        tx["gas"] = w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
    if "gasPrice" not in tx and "maxFeePerGas" not in tx:
        tx["gasPrice"] = w3.eth.gas_price
    with _SENDER_LOCKS[account.address]:
        if "nonce" not in tx:
            tx["nonce"] = w3.eth.get_transaction_count(account.address, "pending")
        signed = account.sign_transaction(tx)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
