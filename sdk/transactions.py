"""Signs transactions locally with a member key and sends them as raw transactions.

Nothing here relies on the node holding keys: the same path works against our node,
anvil, Besu or eth-tester.

Every send takes its account's lock (`account_lock`) while it reads the pending nonce and
hands the signed transaction to the node, so threads of one process, and processes that
called `share_sender_locks` with one directory (the workers of `medledger api --workers
N`), never take the same nonce. The lock is re-entrant in one thread: a caller that needs
more than the transaction nonce in order (an EIP-712 order nonce that advances only when
its transaction is mined) holds it around the whole operation and the send inside takes
it again.

A transaction the node accepted but did not mine within the wait raises
`TransactionPending` with its hash: it may still be mined, so it is not a failure.
"""

from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import TimeExhausted, TransactionNotFound
from web3.types import TxReceipt

from medledger.sdk.errors import MedLedgerError

__all__ = [
    "SenderBusy",
    "TransactionPending",
    "account_lock",
    "await_own_pending",
    "send_transaction",
    "share_sender_locks",
    "wait_for_receipt",
]

RECEIPT_TIMEOUT = 120.0


class TransactionPending(MedLedgerError):
    """The node accepted a transaction but no receipt came within `waited` seconds: it may
    still be mined. `tx_hash` is its 32-byte hash."""

    def __init__(self, tx_hash: bytes, *, sender: str, waited: float) -> None:
        super().__init__(
            f"transaction 0x{tx_hash.hex()} from {sender} was accepted but not mined "
            f"within {waited:g} s; it may still be mined"
        )
        self.tx_hash = tx_hash
        self.sender = sender
        self.waited = waited


class SenderBusy(MedLedgerError):
    """An earlier transaction of `sender` is still waiting to be mined, so an operation
    that must follow it (one that reads an order nonce) cannot be signed yet."""

    def __init__(self, sender: str, *, pending: int, waited: float) -> None:
        super().__init__(
            f"{pending} earlier transaction(s) of {sender} still not mined after {waited:g} s"
        )
        self.sender = sender
        self.pending = pending
        self.waited = waited


class _AccountLocks:
    """One re-entrant lock per account, and the file lock shared with other processes
    taken when a thread first enters it (and released when that thread leaves it). The
    lock file also keeps the hash of the account's last sent transaction."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.RLock] = {}
        self._held = threading.local()
        self._last: dict[str, bytes] = {}
        self.directory: Path | None = None

    def note_sent(self, address: str, tx_hash: bytes) -> None:
        """Remember `tx_hash` as `address`'s last transaction (call it holding the lock)."""
        key = address.lower()
        self._last[key] = tx_hash
        if self.directory is not None:
            (self.directory / f"{key}.last").write_text(tx_hash.hex())

    def last_sent(self, address: str) -> bytes | None:
        key = address.lower()
        if self.directory is not None:
            path = self.directory / f"{key}.last"
            return bytes.fromhex(path.read_text()) if path.is_file() else None
        return self._last.get(key)

    def _lock(self, key: str) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(key, threading.RLock())

    @contextmanager
    def hold(self, address: str) -> Iterator[None]:
        key = address.lower()
        with self._lock(key):
            held: dict[str, tuple[int, IO[str] | None]] = self._held.__dict__.setdefault(
                "by_key", {}
            )
            depth, handle = held.get(key, (0, None))
            if depth == 0 and self.directory is not None:
                handle = open(self.directory / f"{key}.lock", "a")  # closed when the lock is left
                fcntl.flock(handle, fcntl.LOCK_EX)
            held[key] = (depth + 1, handle)
            try:
                yield
            finally:
                if depth == 0:
                    del held[key]
                    if handle is not None:
                        fcntl.flock(handle, fcntl.LOCK_UN)
                        handle.close()
                else:
                    held[key] = (depth, handle)


_LOCKS = _AccountLocks()


def share_sender_locks(directory: Path) -> None:
    """Serialise nonce reads and sends per account with every process that calls this with
    the same `directory` (one machine's API workers)."""
    directory.mkdir(parents=True, exist_ok=True)
    _LOCKS.directory = directory


def account_lock(address: str) -> AbstractContextManager[None]:
    """A context manager holding `address`'s send lock (re-entrant within one thread)."""
    return _LOCKS.hold(address)


def await_own_pending(w3: Web3, address: str, *, timeout: float = RECEIPT_TIMEOUT) -> None:
    """Wait until every transaction `address` sent is mined; `SenderBusy` after `timeout`
    seconds. Call it holding `account_lock`. A transaction counts as waiting while the
    node's pending nonce for `address` is above its mined one (our node, geth, anvil), or
    while the last transaction sent here is known to the node without a receipt (nodes
    whose pending nonce ignores their pool, as eth-tester's)."""
    deadline = time.monotonic() + timeout
    last = _LOCKS.last_sent(address)
    while True:
        mined = w3.eth.get_transaction_count(address, "latest")  # type: ignore[arg-type]
        pending = w3.eth.get_transaction_count(address, "pending")  # type: ignore[arg-type]
        waiting = pending - mined
        if waiting <= 0 and last is not None and _unmined(w3, last):
            waiting = 1
        if waiting <= 0:
            return
        if time.monotonic() >= deadline:
            raise SenderBusy(address, pending=waiting, waited=timeout)
        time.sleep(0.05)


def _unmined(w3: Web3, tx_hash: bytes) -> bool:
    """Known to the node (in its pool) but without a receipt."""
    try:
        w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        return False
    except TransactionNotFound:
        pass
    try:
        return w3.eth.get_transaction(tx_hash) is not None  # type: ignore[arg-type]
    except TransactionNotFound:
        return False


def send_transaction(
    w3: Web3, account: LocalAccount, tx: dict[str, Any], *, timeout: float = RECEIPT_TIMEOUT
) -> TxReceipt:
    """Fill nonce/gas/fees if missing, sign with `account`, send, and wait for the receipt
    (`TransactionPending` if none comes within `timeout` seconds)."""
    tx = dict(tx)
    tx.setdefault("from", account.address)
    tx.setdefault("chainId", w3.eth.chain_id)
    if "gas" not in tx:
        tx["gas"] = w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
    if "gasPrice" not in tx and "maxFeePerGas" not in tx:
        tx["gasPrice"] = w3.eth.gas_price
    with account_lock(account.address):
        if "nonce" not in tx:
            tx["nonce"] = w3.eth.get_transaction_count(account.address, "pending")
        signed = account.sign_transaction(tx)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        _LOCKS.note_sent(account.address, bytes(tx_hash))
    return wait_for_receipt(w3, bytes(tx_hash), sender=account.address, timeout=timeout)


def wait_for_receipt(w3: Web3, tx_hash: bytes, *, sender: str, timeout: float) -> TxReceipt:
    """The receipt of a sent transaction, or `TransactionPending` after `timeout` s."""
    try:
        return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)  # type: ignore[arg-type]
    except TimeExhausted as exc:
        raise TransactionPending(tx_hash, sender=sender, waited=timeout) from exc
