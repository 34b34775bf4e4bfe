"""An in-process chain (eth-tester on py-evm) for the demo and contract tests.

It is the reference EVM for unit tests, not the node: every transaction is snapshotted and
replayed, which is slow but exact. Accounts are eth-tester's funded dev keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3

__all__ = ["DevChain"]


@dataclass
class DevChain:
    tester: EthereumTester
    w3: Web3
    accounts: list[LocalAccount] = field(default_factory=list)

    @classmethod
    def start(cls, *, accounts: int = 10) -> DevChain:
        backend = PyEVMBackend(
            genesis_state=PyEVMBackend.generate_genesis_state(num_accounts=accounts)
        )
        tester = EthereumTester(backend)
        w3 = Web3(EthereumTesterProvider(tester))
        keys = [Account.from_key(k.to_bytes()) for k in backend.account_keys]
        return cls(tester=tester, w3=w3, accounts=keys)

    def now(self) -> int:
        """Timestamp of the latest block."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def advance(self, seconds: int) -> int:
        """Mine an empty block `seconds` after the latest one; return its timestamp."""
        target = self.now() + seconds
        # eth-tester mines the travel block one second before the timestamp it is given.
        self.tester.time_travel(target + 1)
        return self.now()
