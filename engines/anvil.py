"""anvil (Foundry, installed from npm) as a supervised child: the standard external EVM
the tests and `medledger bench e2e --chain anvil` run the whole stack against."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount

from medledger.runtime.supervisor import ProcessSpec, Supervisor, SupervisorError, free_port

__all__ = ["ANVIL", "anvil_dev_accounts", "start_anvil", "wait_rpc"]

REPO = Path(__file__).resolve().parent.parent
ANVIL = REPO / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
# anvil's public test mnemonic: its first accounts are funded with 10,000 ETH each.
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


def anvil_dev_accounts(count: int = 10) -> list[LocalAccount]:
    """anvil's funded development accounts, derived from its well-known mnemonic."""
    Account.enable_unaudited_hdwallet_features()
    return [
        Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}")
        for i in range(count)
    ]


def wait_rpc(url: str, *, timeout: float = 30.0, alive: Supervisor | None = None) -> None:
    """Poll `eth_chainId` until the endpoint answers (anvil serves no GET health route)."""
    deadline = time.monotonic() + timeout
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    while time.monotonic() < deadline:
        if alive is not None and alive.exited():
            raise SupervisorError(f"{url}: {', '.join(alive.exited())} exited while starting")
        try:
            if httpx.post(url, json=body, timeout=2.0).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SupervisorError(f"no JSON-RPC answer from {url} within {timeout} s")


def start_anvil(
    supervisor: Supervisor,
    *,
    name: str = "anvil",
    port: int | None = None,
    block_time: float | None = None,
) -> str:
    """Start anvil (Prague rules, a 1G block gas limit, automine unless `block_time`)
    and return its JSON-RPC URL once it answers."""
    if not ANVIL.exists():
        raise SupervisorError(f"anvil is not installed at {ANVIL}; run `npm ci`")
    port = port or free_port()
    argv = [str(ANVIL), "--port", str(port), "--hardfork", "prague", "--silent"]
    argv += ["--gas-limit", "1000000000", "--chain-id", "31337"]
    if block_time is not None:
        argv += ["--block-time", str(block_time)]
    supervisor.start(ProcessSpec(name, argv))
    url = f"http://127.0.0.1:{port}"
    wait_rpc(url, alive=supervisor)
    return url
