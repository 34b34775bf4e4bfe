"""`medledger deploy`: the contract suite on any standard Ethereum JSON-RPC endpoint.

The deployer's key comes from a hex string or an encrypted keystore. Before anything is
sent, the endpoint must answer and the account must hold enough to pay for the four
deployments at the chain's gas price (free-gas chains such as our node skip the check).
The deployer becomes the bootstrap admin; `bootstrap` then admits the regulator and grants
the platform relayer its role, which is all a consortium needs before members join.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.exceptions import Web3Exception

from medledger.sdk.compiler import DELEGATED_MODULES, ContractArtifact, load_artifacts
from medledger.sdk.deploy import CONTRACT_NAMES, Deployment, deploy_suite
from medledger.sdk.errors import MedLedgerError
from medledger.sdk.keys import load_key
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import Role
from medledger.sdk.transactions import send_transaction

__all__ = [
    "BootstrapPlan",
    "DeployError",
    "bootstrap",
    "connect",
    "deploy_to_rpc",
    "deployer_from_hex",
    "deployer_from_keystore",
    "deployment_cost",
]

# Intrinsic and creation gas of one contract deployment, plus a margin for its constructor
# (role grants, a few storage slots); an upper estimate, only used for the funds check.
CREATE_GAS = 21_000 + 32_000 + 200_000
CODE_DEPOSIT_GAS_PER_BYTE = 200
CALLDATA_GAS_PER_BYTE = 16


class DeployError(MedLedgerError):
    """The endpoint, the key or the account cannot carry out a deployment."""


def deployer_from_hex(key: str) -> LocalAccount:
    """The account of a hex private key; the message never repeats the key."""
    text = key.strip().removeprefix("0x")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise DeployError("--key is not hexadecimal (expected 64 hex digits)") from None
    if len(raw) != 32:
        raise DeployError(f"--key has {len(text)} hex digits; a private key has 64")
    try:
        account: LocalAccount = Account.from_key(raw)
    except (ValueError, TypeError) as exc:
        raise DeployError(f"--key is not a valid secp256k1 private key: {exc}") from None
    return account


def deployer_from_keystore(path: Path, password: str) -> LocalAccount:
    """The account in an encrypted V3 keystore (sdk.keys), with its errors."""
    return load_key(path, password)


def connect(rpc_url: str, *, timeout: float = 10.0) -> Web3:
    """A Web3 handle on `rpc_url`, after checking that it answers `eth_chainId`."""
    if not rpc_url.startswith(("http://", "https://")):
        raise DeployError(f"--rpc must be an http(s):// JSON-RPC URL, not {rpc_url!r}")
    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    try:
        w3.eth.chain_id  # noqa: B018 - the probe itself
    except requests.Timeout:
        raise DeployError(f"cannot reach a JSON-RPC endpoint at {rpc_url}: no answer within "
                          f"{timeout} s") from None  # fmt: skip
    except requests.ConnectionError:
        raise DeployError(
            f"cannot reach a JSON-RPC endpoint at {rpc_url}: connection refused or host unknown"
        ) from None
    except requests.HTTPError as exc:
        raise DeployError(f"{rpc_url} is not a JSON-RPC endpoint: {exc}") from None
    except (requests.RequestException, OSError) as exc:
        raise DeployError(f"cannot reach a JSON-RPC endpoint at {rpc_url}: {exc}") from None
    except (Web3Exception, ValueError) as exc:
        raise DeployError(f"{rpc_url} does not answer eth_chainId: {exc}") from None
    return w3


def deployment_cost(w3: Web3, artifacts: dict[str, ContractArtifact]) -> tuple[int, int]:
    """(upper estimate of the wei the four deployments cost, the gas price used)."""
    gas_price = int(w3.eth.gas_price)
    gas = 0
    for name in CONTRACT_NAMES:
        art = artifacts[name]
        gas += CREATE_GAS + CALLDATA_GAS_PER_BYTE * len(art.bytecode)
        gas += CODE_DEPOSIT_GAS_PER_BYTE * len(art.deployed_bytecode)
        for module in DELEGATED_MODULES.get(name, ()):  # created by the contract's constructor
            gas += CREATE_GAS + CODE_DEPOSIT_GAS_PER_BYTE * len(artifacts[module].deployed_bytecode)
    # Bootstrap transactions (admit, grant) are small next to the deployments.
    return gas * gas_price * 12 // 10, gas_price


def _check_funds(w3: Web3, account: LocalAccount, artifacts: dict[str, ContractArtifact]) -> None:
    needed, gas_price = deployment_cost(w3, artifacts)
    if gas_price == 0:
        return
    balance = int(w3.eth.get_balance(account.address))
    if balance < needed:
        raise DeployError(
            f"account {account.address} holds {balance} wei on chain {w3.eth.chain_id}; "
            f"deploying the suite needs about {needed} wei at a gas price of {gas_price} wei "
            "(fund the account first)"
        )


def deploy_to_rpc(
    w3: Web3,
    deployer: LocalAccount,
    *,
    artifacts: dict[str, ContractArtifact] | None = None,
) -> Deployment:
    """Check funds, deploy Partners (deployer as bootstrap admin), Devices, Items and
    Records, and check that each address now holds code."""
    arts = artifacts or load_artifacts()
    _check_funds(w3, deployer, arts)
    try:
        deployment = deploy_suite(w3, deployer, artifacts=arts)
    except (Web3Exception, ValueError) as exc:
        raise DeployError(f"the chain refused a deployment from {deployer.address}: {exc}") from exc
    for name in CONTRACT_NAMES:
        if not w3.eth.get_code(deployment.address_of(name)):  # type: ignore[arg-type]
            raise DeployError(f"{name} at {deployment.address_of(name)} has no code after deploy")
    return deployment


@dataclass(frozen=True, slots=True)
class BootstrapPlan:
    """What a new consortium needs before members join: its regulator, who admits and
    licenses everyone else, and the platform relayer that submits signed orders."""

    regulator: str | None = None
    regulator_name: str = "Regulator"
    relayer: str | None = None
    # On a chain that charges gas, top the regulator and the relayer up to this balance
    # (wei) from the admin: both submit transactions.
    fund_wei: int = 0


def bootstrap(
    w3: Web3,
    deployment: Deployment,
    admin: LocalAccount,
    plan: BootstrapPlan,
    *,
    artifacts: dict[str, ContractArtifact] | None = None,
    echo: Callable[[str], None] = lambda _line: None,
) -> None:
    """Admit the regulator and grant the relayer role, skipping what is already done."""
    ledger = Ledger(w3, deployment, admin, artifacts=artifacts)
    if plan.regulator is not None:
        if ledger.is_active(plan.regulator):
            echo(f"regulator {plan.regulator} is already a member")
        else:
            ledger.admit(plan.regulator, Role.REGULATOR, plan.regulator_name)
            echo(f"admitted regulator {plan.regulator} ({plan.regulator_name})")
    if plan.relayer is not None:
        if ledger.may_relay(plan.relayer):
            echo(f"relayer {plan.relayer} already holds RELAYER_ROLE")
        else:
            ledger.grant_relayer(plan.relayer)
            echo(f"granted RELAYER_ROLE to {plan.relayer}")
    if plan.fund_wei and int(w3.eth.gas_price):
        for address in (plan.regulator, plan.relayer):
            if address is not None:
                _top_up(w3, admin, address, plan.fund_wei, echo)


def _top_up(
    w3: Web3, payer: LocalAccount, address: str, target: int, echo: Callable[[str], None]
) -> None:
    missing = target - int(w3.eth.get_balance(address))  # type: ignore[arg-type]
    if missing <= 0:
        return
    if int(w3.eth.get_balance(payer.address)) < missing:
        raise DeployError(f"{payer.address} cannot fund {address} with {missing} wei")
    send_transaction(w3, payer, {"to": address, "value": missing})
    echo(f"funded {address} with {missing} wei")
