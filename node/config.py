"""Node configuration: the genesis file and the runtime settings, in one `NodeConfig`.

The genesis file is JSON:

```json
{
  "chain_id": 1337, "authorities": ["0x…"], "bootstrap_admin": "0x…",
  "block_gas_limit": 1000000000, "block_interval_ms": 150, "batch_size": 500,
  "mempool_limit": 20000, "genesis_timestamp": 1767225600,
  "deployer": "0x…", "contracts": {"Partners": "0x<initcode+args>", ...},
  "alloc": {"0x…": "0x<balance>"},
  "demo_authority_key": "0x…", "demo_admin_key": "0x…"
}
```

Gas is free: the base fee is zero and `eth_gasPrice` answers 0. The contract suite is
deployed in the genesis state by running each constructor from `deployer` (no key exists
for it), so the addresses are the deployer's CREATE addresses and the genesis hash depends
only on this file. The demo keys are for `medledger node` with no flags and are public.

Since gas is free, gas does not limit what a member may make the chain do; the runtime
budgets do (see `node.intake` and `node.sequencer`): a per-transaction gas cap and size
at admission, contract creation reserved to the consortium admin, a wall-time budget per
block, and gas and wall-time budgets for `eth_call`/`eth_estimateGas`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import rlp
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from medledger.node.errors import ConfigError

__all__ = ["DEMO_ADMIN_KEY", "DEMO_AUTHORITY_KEY", "ENGINES", "NodeConfig", "demo_genesis"]

DEMO_AUTHORITY_KEY = "0x" + keccak(text="medledger demo authority").hex()
DEMO_ADMIN_KEY = "0x" + keccak(text="medledger demo bootstrap admin").hex()
DEMO_DEPLOYER = "0x" + keccak(text="medledger genesis deployer")[12:].hex()
DEMO_CHAIN_ID = 1337
GENESIS_TIMESTAMP = 1_767_225_600  # 2026-01-01T00:00:00Z
CONTRACT_ORDER = ("Partners", "Devices", "Items", "Records")
ENGINES = ("pyevm", "revm")


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Everything one node process needs; genesis fields come from the genesis file."""

    chain_id: int
    authorities: tuple[str, ...]
    bootstrap_admin: str
    deployer: str
    contracts: dict[str, str]
    block_gas_limit: int = 1_000_000_000
    block_interval_ms: int = 150
    batch_size: int = 500
    mempool_limit: int = 20_000
    genesis_timestamp: int = GENESIS_TIMESTAMP
    alloc: dict[str, str] = field(default_factory=dict)
    demo_authority_key: str | None = None
    demo_admin_key: str | None = None
    # runtime settings (not part of the genesis)
    data_dir: Path = Path(".medledger/node")
    rpc_host: str = "127.0.0.1"
    rpc_port: int = 8545
    ws_port: int | None = None  # JSON-RPC over WebSocket with subscriptions (node.ws); 0: any
    authority_key: str | None = None
    authority_key_file: Path | None = None
    follow_url: str | None = None
    exit_on_divergence: bool = False
    # a second process: the sequencer's RPC front (node.front), the follower's fetcher
    helper_process: bool = False
    max_log_range: int = 100_000
    max_log_results: int = 10_000
    # execution budgets (admission and block building: policy, not consensus rules)
    max_tx_gas: int = 30_000_000  # twice the largest honest operation (docs/GAS.md)
    max_tx_bytes: int = 256 * 1024
    block_time_budget_ms: int = 2_000  # stop filling a block once it took this long
    # eth_call / eth_estimateGas: gas cap is max_tx_gas
    call_time_budget_ms: int = 3_000
    max_concurrent_calls: int = 4
    # the EVM that executes blocks (node.chain): revm (node.engine_revm), or py-evm
    # (node.evm), the reference
    engine: str = "revm"

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")

    @classmethod
    def load(cls, path: Path, **runtime: Any) -> NodeConfig:
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"genesis file {path} does not exist") from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(f"genesis file {path} is not valid JSON: {exc}") from exc
        return cls.from_json(data, **runtime)

    @classmethod
    def from_json(cls, data: dict[str, Any], **runtime: Any) -> NodeConfig:
        required = ("chain_id", "authorities", "bootstrap_admin", "deployer", "contracts")
        missing = [k for k in required if k not in data]
        if missing:
            raise ConfigError(f"genesis file lacks {', '.join(missing)}")
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"genesis file has unknown keys: {', '.join(sorted(unknown))}")
        values = dict(data)
        values["authorities"] = tuple(_address(a, "authorities") for a in data["authorities"])
        values["bootstrap_admin"] = _address(data["bootstrap_admin"], "bootstrap_admin")
        values["deployer"] = _address(data["deployer"], "deployer")
        if not values["authorities"]:
            raise ConfigError("genesis file names no authority")
        for key in ("chain_id", "block_gas_limit", "block_interval_ms", "batch_size"):
            if key in values and (not isinstance(values[key], int) or values[key] <= 0):
                raise ConfigError(f"{key} must be a positive integer, got {values[key]!r}")
        if set(data["contracts"]) != set(CONTRACT_ORDER):
            raise ConfigError(f"contracts must be exactly {', '.join(CONTRACT_ORDER)}")
        config = cls(**values)
        return replace(config, **runtime) if runtime else config

    def to_json(self) -> dict[str, Any]:
        genesis_keys = (
            "chain_id",
            "authorities",
            "bootstrap_admin",
            "deployer",
            "block_gas_limit",
            "block_interval_ms",
            "batch_size",
            "mempool_limit",
            "genesis_timestamp",
            "alloc",
            "demo_authority_key",
            "demo_admin_key",
            "contracts",
        )
        out = {k: getattr(self, k) for k in genesis_keys}
        out["authorities"] = list(self.authorities)
        return {k: v for k, v in out.items() if v is not None}

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    def contract_address(self, name: str) -> str:
        """The genesis address of `name` (CREATE address of the deployer's nonce)."""
        nonce = CONTRACT_ORDER.index(name)
        return to_checksum_address(create_address(bytes.fromhex(self.deployer[2:]), nonce))

    def deployments(self) -> tuple[tuple[str, bytes], ...]:
        return tuple((name, bytes.fromhex(self.contracts[name][2:])) for name in CONTRACT_ORDER)


def create_address(sender: bytes, nonce: int) -> bytes:
    """The CREATE address of `sender` at `nonce`."""
    return keccak(rlp.encode([sender, nonce]))[12:]


def _address(value: Any, key: str) -> str:
    if not isinstance(value, str) or len(value) != 42 or not value.startswith("0x"):
        raise ConfigError(f"{key}: {value!r} is not a 0x-prefixed 20-byte address")
    try:
        return to_checksum_address(value)
    except ValueError as exc:
        raise ConfigError(f"{key}: {value!r} is not an address ({exc})") from exc


def demo_genesis(*, chain_id: int = DEMO_CHAIN_ID, **overrides: Any) -> NodeConfig:
    """The single-machine demo consortium: public demo authority and admin keys and the
    contract suite compiled from contracts/."""
    from medledger.sdk.compiler import load_artifacts

    authority = Account.from_key(DEMO_AUTHORITY_KEY).address
    admin = overrides.pop("bootstrap_admin", Account.from_key(DEMO_ADMIN_KEY).address)
    deployer = bytes.fromhex(DEMO_DEPLOYER[2:])
    partners = to_checksum_address(create_address(deployer, 0))
    devices = to_checksum_address(create_address(deployer, 1))
    items = to_checksum_address(create_address(deployer, 2))
    arts = load_artifacts()
    args = {
        "Partners": encode(["address"], [admin]),
        "Devices": encode(["address"], [partners]),
        "Items": encode(["address", "address"], [partners, devices]),
        "Records": encode(["address", "address", "address"], [partners, items, devices]),
    }
    contracts = {n: "0x" + (arts[n].bytecode + args[n]).hex() for n in CONTRACT_ORDER}
    data: dict[str, Any] = {
        "chain_id": chain_id,
        "authorities": [authority],
        "bootstrap_admin": admin,
        "deployer": to_checksum_address(DEMO_DEPLOYER),
        "contracts": contracts,
        "demo_authority_key": DEMO_AUTHORITY_KEY,
        "demo_admin_key": DEMO_ADMIN_KEY,
    }
    data.update(overrides)
    return NodeConfig.from_json(data)
