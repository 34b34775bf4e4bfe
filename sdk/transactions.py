"""Signs transactions locally with a member key and sends them as raw transactions.

Nothing here relies on the node holding keys: the same path works against our node,
anvil, Besu or eth-tester.
"""

from __future__ import annotations

import fcntl
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.types import TxReceipt

__all__ = ["send_transaction", "share_sender_locks"]


# One lock per sending account: threads of one process (API request handlers relaying with
# the same relayer key) must not read the same pending nonce before either has sent.
_SENDER_LOCKS: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
# Where processes sharing a key (the workers of `medledger api --workers N`) take the same
# lock as a file lock; None: this process is the key's only sender.
_lock_dir: Path | None = None


def share_sender_locks(directory: Path) -> None:
    """Serialise nonce reads and sends per account with every process that calls this with
    the same `directory` (one machine's API workers)."""
    global _lock_dir
    directory.mkdir(parents=True, exist_ok=True)
    _lock_dir = directory


@contextmanager
def _sending_as(address: str) -> Iterator[None]:
    with _SENDER_LOCKS[address]:
        if _lock_dir is None:
            yield
            return
        with open(_lock_dir / f"{address.lower()}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


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
    with _sending_as(account.address):
        if "nonce" not in tx:
            tx["nonce"] = w3.eth.get_transaction_count(account.address, "pending")
        signed = account.sign_transaction(tx)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
