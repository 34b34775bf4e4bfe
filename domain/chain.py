"""The API's handles on the ledger: a read-only view, the platform relayer, members'
custodial signers, submission of raw transactions a partner signed itself, and the status
of a transaction a member sent through the API.

Every handle is an `sdk.ledger.Ledger`, so a revert surfaces as a `ContractError` named
after the Solidity error and becomes problem+json in `api.errors`. The handles that write
for a member are `api.tenancy.TenantLedger`s: their refusals say only what that member may
see, and a write the node accepted but did not mine within `RECEIPT_WAIT` seconds answers
202 with the transaction's status URL (`transaction_status`) instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import rlp
from eth_account import Account
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3RPCError

from medledger.domain.custodial_keys import RELAYER_KEY_FILE, CustodyVault, secret_setting
from medledger.domain.errors import ApiError, Conflict, Forbidden, NotConfigured, NotFound
from medledger.domain.services import Component, Services
from medledger.domain.store import api_store
from medledger.domain.tenancy import TenantLedger, least_visible, pending
from medledger.sdk.abi import DecodedEvent
from medledger.sdk.deploy import CONTRACT_NAMES
from medledger.sdk.errors import ContractError
from medledger.sdk.ledger import REVERTS, Ledger, revert_data
from medledger.sdk.transactions import TransactionPending, wait_for_receipt

__all__ = [
    "RECEIPT_WAIT",
    "SubmittedTx",
    "TxStatus",
    "custodial_ledger",
    "reader",
    "relayer",
    "relayer_for",
    "submit_raw",
    "transaction_status",
    "vault",
]

# How long a write waits for its receipt before answering 202 (HTTP clients and proxies
# commonly give up after 60 s).
RECEIPT_WAIT = 30.0


LEDGER_READER: Component[Ledger] = Component("ledger_reader")
CUSTODY_VAULT: Component[CustodyVault] = Component("custody_vault")


def reader(services: Services) -> Ledger:
    """A ledger handle for views. It acts as the platform relayer when one is configured
    (a funded account, which chains that charge for eth_call need), else as a throwaway
    account; it never sends."""

    def make() -> Ledger:
        key = secret_setting(services.settings, "relayer_key", RELAYER_KEY_FILE)
        account = Account.from_key(key) if key else Account.create()
        ledger = Ledger(services.w3, services.deployment, account, artifacts=services.artifacts)
        ledger.receipt_timeout = RECEIPT_WAIT
        return ledger

    return services.components.get(LEDGER_READER, make)


def relayer(services: Services) -> Ledger:
    """The platform relayer (RELAYER_ROLE), which submits orders members signed."""
    if secret_setting(services.settings, "relayer_key", RELAYER_KEY_FILE) is None:
        raise NotConfigured(
            "relayer_missing",
            "set MEDLEDGER_API_RELAYER_KEY or write it to "
            f"{services.settings.data_dir / RELAYER_KEY_FILE} to relay signed orders",
        )
    return reader(services)


def relayer_for(services: Services, member: str, *, sees_all: bool = False) -> TenantLedger:
    """The platform relayer relaying `member`'s own signed orders (refusals as `member`
    may see them)."""
    base = relayer(services)
    return TenantLedger.of(base, base.account, tenant=member, sees_all=sees_all)


def vault(services: Services) -> CustodyVault:
    return services.components.get(
        CUSTODY_VAULT, lambda: CustodyVault(api_store(services), services.settings)
    )


def custodial_ledger(services: Services, address: str, *, sees_all: bool = False) -> TenantLedger:
    """The member's ledger handle signing with its custodial key (refusals as the member
    may see them; `sees_all` for the regulator)."""
    account = vault(services).get(address)
    if account is None:
        raise ApiError(
            "signature_required",
            f"{address} has no custodial key: sign the order or the transaction yourself "
            "(EIP-712 `signature`, or POST /v1/partner/transactions)",
        )
    return TenantLedger.of(reader(services), account, tenant=account.address, sees_all=sees_all)


@dataclass(frozen=True, slots=True)
class SubmittedTx:
    """A partner-signed transaction that went through: hash, block and decoded events."""

    tx_hash: str
    block_number: int
    events: list[DecodedEvent]


def submit_raw(
    services: Services, raw: bytes, *, member: str, sees_all: bool = False
) -> SubmittedTx:
    """Check that `raw` is signed by `member` and calls one of our contracts, dry-run it
    (a revert comes back as the named Solidity error without spending a nonce, as
    `member` may see it), then submit it with eth_sendRawTransaction and wait for the
    receipt (202 `transaction_pending` if it does not come within `RECEIPT_WAIT`)."""
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
        refusal = _decode(services, exc)
        if isinstance(refusal, ContractError) and not sees_all:
            refusal = least_visible(reader(services), refusal, tenant=sender)
        raise refusal from exc
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
    try:
        wait = reader(services).receipt_timeout
        receipt = wait_for_receipt(w3, bytes(tx_hash), sender=sender, timeout=wait)
    except TransactionPending as exc:
        raise pending(exc) from exc
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


@dataclass(frozen=True, slots=True)
class TxStatus:
    """Where a transaction sent through the API stands: `pending` (accepted, not mined),
    `mined` (with its block and decoded events), `failed` (mined and reverted, with the
    decoded error) or `dropped` (the node gave up on it, with its reason)."""

    tx_hash: str
    state: str
    block_number: int | None = None
    events: list[DecodedEvent] = field(default_factory=list)
    error: Exception | None = None


def transaction_status(
    services: Services, tx_hash: bytes, *, member: str, sees_all: bool = False
) -> TxStatus:
    """The status of a transaction of `member`: sent from its key, or the relayer's relay of
    a custody order it signed. Any other (or unknown) hash is 404 `transaction_not_found`.
    A transaction our node holds in its mempool only answers `pending` (the node does not
    say who sent it; the hash itself is known only to whoever sent it)."""
    w3 = services.w3
    name = "0x" + tx_hash.hex()
    missing = NotFound("transaction_not_found", f"no transaction {name} of yours")
    # Our node serves a transaction only once mined; one it mines between the lookup and
    # the status call answers "mined" there, so it is looked up again (once).
    for last_try in (False, True):
        tx = _lookup(w3.eth.get_transaction, tx_hash)
        if tx is not None:
            break
        node = _node_status(w3, name)
        if node.get("status") in ("pending", "dropped"):
            return TxStatus(name, str(node["status"]), error=_dropped(node))
        if node.get("status") != "mined" or last_try:
            raise missing
    if not (sees_all or _sent_for(services, tx, member)):
        raise missing
    receipt = _lookup(w3.eth.get_transaction_receipt, tx_hash)
    if receipt is None:
        return TxStatus(name, "pending")
    block = int(receipt["blockNumber"])
    if receipt["status"] == 1:
        return TxStatus(name, "mined", block, services.codec.decode_logs(receipt["logs"]))
    failure: Exception | None = reader(services).failure_of(tx_hash)
    if isinstance(failure, ContractError) and not sees_all:
        failure = least_visible(reader(services), failure, tenant=to_checksum_address(member))
    return TxStatus(name, "failed", block, error=failure)


def _lookup(get: Any, tx_hash: bytes) -> Any:
    try:
        return get(tx_hash)
    except TransactionNotFound:
        return None


def _node_status(w3: Web3, name: str) -> dict[str, Any]:
    """Our node's view of a transaction it has not mined (other nodes lack the method)."""
    try:
        answer = w3.provider.make_request("medledger_getTransactionStatus", [name])  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 (any failure means: the node cannot say)
        return {}
    result = answer.get("result") if isinstance(answer, dict) else None
    return dict(result) if isinstance(result, dict) else {}


def _dropped(node: dict[str, Any]) -> Exception | None:
    if node.get("status") != "dropped":
        return None
    return ApiError("transaction_dropped", f"the node dropped it: {node.get('reason', '?')}")


# A relayed custody order's party is the first field of its order (sender or receiver).
_RELAYED_ORDERS = frozenset({"ship", "receiveShipment", "cancelShipment"})


def _sent_for(services: Services, tx: Any, member: str) -> bool:
    member = to_checksum_address(member)
    if to_checksum_address(tx["from"]) == member:
        return True
    items = to_checksum_address(services.deployment.items)
    if not tx.get("to") or to_checksum_address(tx["to"]) != items:
        return False
    contract = services.w3.eth.contract(abi=services.artifacts["Items"].abi)
    try:
        function, params = contract.decode_function_input(tx["input"])
    except ValueError:
        return False
    if function.fn_name not in _RELAYED_ORDERS:
        return False
    order = params["order"]
    party = next(iter(order.values())) if isinstance(order, dict) else order[0]
    return bool(to_checksum_address(party) == member)
