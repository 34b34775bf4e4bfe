"""An in-process chain (eth-tester on py-evm) for the demo and contract tests.

It is the reference EVM for unit tests, not the node: every transaction is snapshotted and
replayed, which is slow but exact. Accounts are eth-tester's funded dev keys. eth-tester is
a development dependency (the `dev` extra): a partner's SDK never needs it.

eth-tester reports a revert as a Python exception whose message is the repr of the revert
data; `NodeLikeProvider` answers it instead as every node does (ours, anvil, geth): a
JSON-RPC error with code 3 and the revert data, hex, in `data`. The SDK decodes only that.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import EthereumTesterProvider, Web3
from web3.types import RPCEndpoint, RPCResponse

from medledger.sdk.errors import MedLedgerError

__all__ = ["DevChain", "DevChainUnavailable", "NodeLikeProvider"]


class DevChainUnavailable(MedLedgerError):
    """eth-tester, which the dev chain runs on, is not installed (it is in the `dev` extra)."""


try:
    from eth_tester import EthereumTester, PyEVMBackend
    from eth_tester.exceptions import TransactionFailed
except ImportError as exc:  # pragma: no cover - the test suite installs the dev extra
    raise DevChainUnavailable(
        "the in-process dev chain needs eth-tester: pip install 'medledger[dev]'"
    ) from exc

EXECUTION_REVERTED = 3  # the JSON-RPC error code of a reverted call (EIP-1474 practice)


class NodeLikeProvider(EthereumTesterProvider):
    """eth-tester behind web3, answering a revert with the revert data as a node does."""

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        try:
            return super().make_request(method, params)
        except TransactionFailed as exc:
            error: dict[str, Any] = {"code": EXECUTION_REVERTED, "message": "execution reverted"}
            data = _revert_data(exc)
            if data is None:  # not a REVERT (an Error(string) eth-tester decoded, out of gas)
                error["message"] = str(exc)
            else:
                error["data"] = "0x" + data.hex()
            return {"id": self._current_request_id, "jsonrpc": "2.0", "error": error}  # type: ignore[typeddict-item]


def _revert_data(exc: TransactionFailed) -> bytes | None:
    """The revert data eth-tester put in the message, as the repr of a bytes object."""
    if not exc.args or not isinstance(exc.args[0], str):
        return None
    text = exc.args[0].removeprefix("execution reverted: ")
    if not text.startswith(("b'", 'b"')):
        return None
    value = ast.literal_eval(text)
    return value if isinstance(value, bytes) else None


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
        w3 = Web3(NodeLikeProvider(tester))
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
