"""The API's handles on the ledger: a read-only view, the platform relayer, members'
custodial signers, and submission of raw transactions a partner signed itself.

Every handle is an `sdk.ledger.Ledger`, so a revert surfaces as a `ContractError` named
after the Solidity error and becomes problem+json in `api.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass

import rlp
from eth_account import Account
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3.exceptions import Web3RPCError

from api.custody import RELAYER_KEY_FILE, CustodyVault, secret_setting
from api.errors import ApiError, Conflict, Forbidden, NotConfigured
from api.services import Services
from api.store import api_store
from sdk.abi import DecodedEvent
from sdk.deploy import CONTRACT_NAMES
from sdk.errors import ContractError
from sdk.ledger import REVERTS, Ledger, revert_data

__all__ = ["SubmittedTx", "custodial_ledger", "reader", "relayer", "submit_raw", "vault"]


def reader(services: Services) -> Ledger:
    """A ledger handle for views. It acts as the platform relayer when one is configured
    (a funded account, which chains that charge for eth_call need), else as a throwaway
    account; it never sends."""
    ledger = services.extras.get("ledger_reader")
    if ledger is None:
        key = secret_setting(services.settings, "relayer_key", RELAYER_KEY_FILE)
        account = Account.from_key(key) if key else Account.create()
        ledger = Ledger(services.w3, services.deployment, account, artifacts=services.artifacts)
        services.extras["ledger_reader"] = ledger
    assert isinstance(ledger, Ledger)
    return ledger


def relayer(services: Services) -> Ledger:
    """The platform relayer (RELAYER_ROLE), which submits orders members signed."""
    if secret_setting(services.settings, "relayer_key", RELAYER_KEY_FILE) is None:
        raise NotConfigured(
            "relayer_missing",
            "set MEDLEDGER_API_RELAYER_KEY or write it to "
            f"{services.settings.data_dir / RELAYER_KEY_FILE} to relay signed orders",
        )
    return reader(services)


def vault(services: Services) -> CustodyVault:
    found = services.extras.get("custody_vault")
    if found is None:
        found = CustodyVault(api_store(services), services.settings)
        services.extras["custody_vault"] = found
    assert isinstance(found, CustodyVault)
    return found


def custodial_ledger(services: Services, address: str) -> Ledger:
    """The member's ledger handle signing with its custodial key."""
    account = vault(services).get(address)
    if account is None:
        raise ApiError(
            "signature_required",
            f"{address} has no custodial key: sign the order or the transaction yourself "
            "(EIP-712 `signature`, or POST /v1/partner/transactions)",
        )
    return reader(services).as_member(account)


@dataclass(frozen=True, slots=True)
class SubmittedTx:
    """A partner-signed transaction that went through: hash, block and decoded events."""

    tx_hash: str
    block_number: int
    events: list[DecodedEvent]


def submit_raw(services: Services, raw: bytes, *, member: str) -> SubmittedTx:
    """Check that `raw` is signed by `member` and calls one of our contracts, dry-run it
    (a revert comes back as the named Solidity error without spending a nonce), then
    submit it with eth_sendRawTransaction and wait for the receipt."""
    try:
        to, data = _call_fields(raw)
        sender = to_checksum_address(Account.recover_transaction(raw))
    except Exception as exc:  # eth-account raises many types for malformed input
        raise ApiError("invalid_transaction", f"not a signed transaction: {exc}") from exc
    if sender != to_checksum_address(member):
        raise Forbidden("wrong_signer", f"the transaction is signed by {sender}, not by {member}")
    targets = {to_checksum_address(services.deployment.address_of(n)) for n in CONTRACT_NAMES}
    if not to or to_checksum_address(to) not in targets:
        raise ApiError(
            "invalid_transaction",
            f"the transaction must call a MedLedger contract, not 0x{to.hex()}",
        )
    w3 = services.w3
    call = {"from": sender, "to": to_checksum_address(to), "data": data}
    try:
        w3.eth.call(call)  # type: ignore[arg-type]
    except REVERTS as exc:
        raise _decode(services, exc) from exc
    try:
        tx_hash = w3.eth.send_raw_transaction(raw)
    except Web3RPCError as exc:  # the node refused it: nonce used, sender not admitted, full…
        error = dict((exc.rpc_response or {}).get("error") or {})
        reason = error.get("message") or str(exc)
        raise Conflict(
            "transaction_refused",
            f"the ledger node refused the transaction: {reason}",
            rpc_code=error.get("code"),
        ) from exc
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
    if receipt["status"] != 1:
        raise ApiError("transaction_reverted", f"transaction {tx_hash.hex()} reverted")
    return SubmittedTx(
        "0x" + bytes(tx_hash).hex(),
        int(receipt["blockNumber"]),
        services.codec.decode_logs(receipt["logs"]),
    )


def _call_fields(raw: bytes) -> tuple[bytes, bytes]:
    """The `to` and `data` of a signed transaction: typed (EIP-2718) or legacy RLP."""
    if raw and raw[0] <= 0x7F:
        fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        return bytes(fields.get("to") or b""), bytes(fields.get("data") or b"")
    items = rlp.decode(raw)
    if not isinstance(items, list) or len(items) != 9:
        raise ValueError("not an RLP-encoded legacy transaction")
    return bytes(items[3]), bytes(items[5])


def _decode(services: Services, exc: Exception) -> Exception:
    raw = revert_data(exc)
    decoded: ContractError | None = services.codec.decode_error(raw) if raw else None
    if decoded is not None:
        return decoded
    return ApiError("transaction_reverted", f"the transaction would revert: {exc}")
