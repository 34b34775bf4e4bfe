"""Processes that send with one key (the workers of one API) share a file lock per account,
so no two of them read the same pending nonce: checked on anvil with real processes."""

from __future__ import annotations

import fcntl
import multiprocessing
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import HTTPProvider, Web3

from medledger.engines.anvil import anvil_dev_accounts, start_anvil
from medledger.runtime.supervisor import Supervisor
from medledger.sdk.transactions import send_transaction, share_sender_locks

SENDS = 10


@pytest.fixture(scope="module")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with Supervisor(tmp_path_factory.mktemp("anvil")) as supervisor:
        yield start_anvil(supervisor)


def _sender(url: str, key: bytes, lock_dir: str) -> int:
    share_sender_locks(Path(lock_dir))
    w3 = Web3(HTTPProvider(url))
    account = w3.eth.account.from_key(key)
    tx = {"to": account.address, "value": 1, "gas": 21_000}
    return sum(send_transaction(w3, account, tx, timeout=30)["status"] for _ in range(SENDS))


def test_a_process_waits_while_another_holds_the_accounts_send_lock(
    anvil: str, tmp_path: Path
) -> None:
    account = anvil_dev_accounts(3)[2]
    w3 = Web3(HTTPProvider(anvil))
    before = w3.eth.get_transaction_count(account.address)
    lock_dir = tmp_path / "locks"
    lock_dir.mkdir()
    context = multiprocessing.get_context("spawn")
    with open(lock_dir / f"{account.address.lower()}.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as another worker in the middle of a send
        with context.Pool(2) as pool:
            args = (anvil, bytes(account.key), str(lock_dir))
            results = [pool.apply_async(_sender, args) for _ in range(2)]
            time.sleep(3)  # ample for the children to start and send, were they not waiting
            assert w3.eth.get_transaction_count(account.address) == before
            fcntl.flock(held, fcntl.LOCK_UN)
            sent = [result.get(timeout=120) for result in results]
    # Both workers' sends all landed, none refused for a nonce taken by the other.
    assert sent == [SENDS, SENDS]
    assert w3.eth.get_transaction_count(account.address) == before + 2 * SENDS
