"""The regulator's signing key and its orders on members: attest a licence, suspend and
reinstate a member. Recalls are ordered in `domain.recalls`.

Orders are signed with the regulator's key: an eth-account keystore
(`settings.regulator_keystore`, default `data_dir/regulator-keystore.json`, unlocked with
`settings.regulator_key_password`), or an account placed in
`services.regulator_account` (tests). They go to `settings.submit_rpc_url`
(the sequencer) when set, since the regulator's follower refuses writes.

The inputs' limits are declared once here (`MemberAddress`, `LicenceNumber`, …) for the
API's request models and the portal's forms alike.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Annotated, Any, Literal

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from pydantic import Field
from web3 import HTTPProvider, Web3

from medledger.domain.errors import NotConfigured
from medledger.domain.read_your_writes import reached
from medledger.domain.services import Component, Services
from medledger.sdk.ledger import Ledger, TxResult
from medledger.sdk.model import LicenceKind, class_mask

__all__ = [
    "MAX_REASON",
    "DeviceClasses",
    "LicenceKindName",
    "LicenceNumber",
    "LicenceValidUntil",
    "MemberAddress",
    "OrderReason",
    "RegulatorProblem",
    "Written",
    "attest_licence",
    "regulator_account",
    "regulator_ledger",
    "settled_order",
    "reinstate_member",
    "suspend_member",
]

MAX_REASON = 4000  # characters of a reason or outcome text (only its hash goes on chain)

MemberAddress = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]
LicenceKindName = Literal["production", "distribution", "practice", "logistics"]
LicenceNumber = Annotated[str, Field(min_length=1, max_length=200, description="hashed on-chain")]
DeviceClasses = Annotated[list[Literal[1, 2, 3]], Field(min_length=1, max_length=3)]
LicenceValidUntil = Annotated[int, Field(ge=1, le=2**63 - 1, description="unix seconds")]
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


def _hash_or_zero(text: str) -> bytes:
    return keccak(text=text) if text else bytes(32)


def attest_licence(
    services: Services,
    *,
    member: str,
    kind: LicenceKind,
    number: str,
    device_classes: Sequence[int],
    valid_until: int,
) -> Written:
    """Attest (or renew) a member's licence of one kind; the number is anchored by its
    keccak hash."""
    return settled_order(
        services,
        regulator_ledger(services).attest_licence(
            to_checksum_address(member),
            kind=int(kind),
            number_hash=keccak(text=number),
            class_mask=class_mask(*sorted(set(device_classes))),
            valid_until=valid_until,
        ),
    )


def suspend_member(services: Services, *, member: str, reason: str = "") -> Written:
    """Suspend a member: the node refuses its transactions from the next block."""
    ledger = regulator_ledger(services)
    return settled_order(
        services, ledger.suspend(to_checksum_address(member), reason_hash=_hash_or_zero(reason))
    )


def reinstate_member(services: Services, *, member: str) -> Written:
    return settled_order(
        services, regulator_ledger(services).reinstate(to_checksum_address(member))
    )
