"""The SDK names a Solidity custom error from the JSON-RPC error's `data`, the same on
anvil and on our node (no eth-tester involved): a refused gas estimate, a custom error
whose first argument is a string (which a reason-string reader would mistake for
Error(string))."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3

from medledger.engines.anvil import anvil_dev_accounts, start_anvil
from medledger.engines.deploy import deploy_to_rpc
from medledger.node.app import Node
from medledger.node.config import DEMO_ADMIN_KEY, demo_genesis
from medledger.runtime.supervisor import Supervisor
from medledger.sdk.errors import ContractError
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import Role


def _on_anvil(tmp_path: Path) -> Iterator[tuple[str, list[LocalAccount]]]:
    with Supervisor(tmp_path / "anvil") as supervisor:
        yield start_anvil(supervisor), anvil_dev_accounts(3)


def _on_our_node(tmp_path: Path) -> Iterator[tuple[str, list[LocalAccount]]]:
    node = Node(replace(demo_genesis(), data_dir=tmp_path / "node", rpc_port=0))
    node.start()
    try:
        yield node.url, [Account.from_key(DEMO_ADMIN_KEY), Account.create(), Account.create()]
    finally:
        node.stop()


@pytest.fixture(params=["anvil", "our node"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, list]]:
    start = _on_anvil if request.param == "anvil" else _on_our_node
    yield from start(tmp_path)


def test_custom_errors_are_decoded_from_the_rpc_error_data(engine: tuple[str, list]) -> None:
    url, (admin_account, regulator_account, stranger_account) = engine
    w3 = Web3(HTTPProvider(url))
    admin = Ledger(w3, deploy_to_rpc(w3, admin_account), admin_account)
    admin.admit(regulator_account.address, Role.REGULATOR, "NMPA")
    regulator = admin.as_member(regulator_account)

    with pytest.raises(ContractError) as refused:
        admin.as_member(stranger_account).admit(Account.create().address, Role.HOSPITAL, "x")
    assert refused.value.name == "PartnersUnauthorized"
    assert refused.value.args_by_name == {"caller": stranger_account.address}

    with pytest.raises(ContractError) as bad_prefix:
        regulator.assign_company_prefix(regulator.address, "12")
    assert bad_prefix.value.name == "PartnersInvalidPrefix"
    assert bad_prefix.value.args_by_name == {"prefix": "12"}
