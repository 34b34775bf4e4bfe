"""Deploys the contract suite and records where it lives (`Deployment`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from medledger.sdk.compiler import ContractArtifact, load_artifacts
from medledger.sdk.transactions import send_transaction

__all__ = ["CONTRACT_NAMES", "Deployment", "deploy_suite"]

CONTRACT_NAMES = ("Partners", "Devices", "Items", "Records")


@dataclass(frozen=True, slots=True)
class Deployment:
    chain_id: int
    partners: str
    devices: str
    items: str
    records: str
    deployed_at_block: int = 0

    def address_of(self, contract: str) -> str:
        address: str = getattr(self, contract.lower())
        return address

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Deployment:
        data: dict[str, Any] = json.loads(path.read_text())
        return cls(**data)


def deploy_suite(
    w3: Web3, admin: LocalAccount, *, artifacts: dict[str, ContractArtifact] | None = None
) -> Deployment:
    """Deploy Partners (with `admin` as bootstrap admin), Devices, Items and Records."""
    arts = artifacts or load_artifacts()
    start = w3.eth.block_number
    partners = _deploy(w3, admin, arts["Partners"], admin.address)
    devices = _deploy(w3, admin, arts["Devices"], partners)
    items = _deploy(w3, admin, arts["Items"], partners, devices)
    records = _deploy(w3, admin, arts["Records"], partners, items, devices)
    return Deployment(
        chain_id=w3.eth.chain_id,
        partners=partners,
        devices=devices,
        items=items,
        records=records,
        deployed_at_block=start + 1,
    )


def _deploy(w3: Web3, admin: LocalAccount, artifact: ContractArtifact, *args: Any) -> str:
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx = factory.constructor(*args).build_transaction({"from": admin.address})
    receipt = send_transaction(w3, admin, tx)
    address = receipt["contractAddress"]
    if address is None:
        raise RuntimeError(f"deploying {artifact.name} produced no contract address")
    return str(address)
