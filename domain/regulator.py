"""The regulator's signing key and what its orders on the ledger answer (`Written`, once
the read model shows them). Its orders on members are in `domain.partners`, on recalls in
`domain.recalls`.

Orders are signed with the regulator's key: an eth-account keystore
(`settings.regulator_keystore`, default `data_dir/regulator-keystore.json`, unlocked with
`settings.regulator_key_password`), or an account placed in
`services.regulator_account` (tests). They go to `settings.submit_rpc_url`
(the sequencer) when set, since the regulator's follower refuses writes.

"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Annotated, Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import Field
from web3 import HTTPProvider, Web3

from medledger.domain.errors import NotConfigured
from medledger.domain.read_your_writes import reached
from medledger.domain.services import Component, Services
from medledger.sdk.ledger import Ledger, TxResult

__all__ = [
    "MAX_REASON",
    "OrderReason",
    "RegulatorProblem",
    "Written",
    "regulator_account",
    "regulator_ledger",
    "settled_order",
]

MAX_REASON = 4000  # characters of a reason or outcome text (only its hash goes on chain)

OrderReason = Annotated[str, Field(max_length=MAX_REASON, description="hashed on-chain")]


class RegulatorProblem(StrEnum):
    KEY_MISSING = "regulator_key_missing"


@dataclass(frozen=True, slots=True)
class Written:
    """A regulator's order on the ledger: its transaction and block."""

    tx_hash: str
    block_number: int
    indexed: bool = True  # whether the read model showed its block before the answer

    @classmethod
    def of(cls, result: TxResult[Any]) -> Written:
        receipt = result.receipt
        return cls("0x" + bytes(receipt["transactionHash"]).hex(), int(receipt["blockNumber"]))


def settled_order(services: Services, result: TxResult[Any]) -> Written:
    """The mined order, once the read model shows its block (read your own writes, bounded
    by `read_model_wait_seconds`; `indexed` is False when the bound passed first)."""
    written = Written.of(result)
    return replace(written, indexed=reached(services, written.block_number))


REGULATOR_LEDGER: Component[Ledger] = Component("regulator.ledger")


def regulator_account(services: Services) -> LocalAccount:
    """The regulator's key (NotConfigured, a 503, without one)."""
    if services.regulator_account is not None:
        return services.regulator_account
    settings = services.settings
    path = settings.regulator_keystore or settings.data_dir / "regulator-keystore.json"
    if not path.exists() or settings.regulator_key_password is None:
        raise NotConfigured(
            RegulatorProblem.KEY_MISSING,
            f"put the regulator's keystore at {path} and set "
            "MEDLEDGER_API_REGULATOR_KEY_PASSWORD_FILE (a 0600 file) to sign regulator orders",
        )
    key = Account.decrypt(
        json.loads(path.read_text()), settings.regulator_key_password.get_secret_value()
    )
    account: LocalAccount = Account.from_key(key)
    return account


def regulator_ledger(services: Services) -> Ledger:
    """The regulator's signing handle, built once per process."""

    def make() -> Ledger:
        url = services.settings.submit_rpc_url
        w3 = Web3(HTTPProvider(url)) if url else services.w3
        account = regulator_account(services)
        return Ledger(w3, services.deployment, account, artifacts=services.artifacts)

    return services.components.get(REGULATOR_LEDGER, make)
