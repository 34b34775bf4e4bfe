"""What one member learns from the ledger's answers to its writes.

A contract error names what it found, and the chain's state is the whole consortium's:
`ItemsNotHolder(id, holder)` names the holder of any unit, `ItemsInContainer(id,
containerId)` another member's pallet, `ItemsShipmentNotInTransit(shipmentId, status)` and
`ItemsWrongParty(shipmentId, expected)` the state and parties of anyone's shipment. The API
answers a member only about what it may see (`least_visible`):

- an item error about an item the member does not hold (whether it exists or not) is
  `ItemsNotHolder(id)`, without the holder: the same for a unit of another member as for
  one never commissioned;
- a shipment error about a shipment the member is not party to is 404 `shipment_not_found`,
  as a shipment that does not exist;
- `RecordsAlreadyAnchored` does not name another member as the anchoring one.

The regulator sees everything. `TenantLedger` is a ledger handle acting for one member (with
its custodial key, or the platform relayer relaying the member's own signed order) that
applies this to every refusal, and turns a write the node accepted but did not mine in time
into 202 `transaction_pending` with the transaction's hash and status URL. A revert that
names no custom error (a panic) is 409 `transaction_reverted`, never a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eth_account.signers.local import LocalAccount

from medledger.domain.errors import ApiError, Conflict, NotFound
from medledger.sdk.errors import ContractError, MedLedgerError
from medledger.sdk.ledger import Ledger, TxResult
from medledger.sdk.transactions import SenderBusy, TransactionPending

__all__ = ["OperationPending", "TenantLedger", "least_visible", "pending", "status_path"]

# Errors about one item, named by an `id` argument, that a member may be refused for an
# item it does not hold. (ItemsAlreadyExists is about a new id; ItemsRejectedNotInShipment
# names an item of the receiver's own shipment, held by the sender while in transit.)
_NOT_ABOUT_HOLDING = frozenset({"ItemsAlreadyExists", "ItemsRejectedNotInShipment"})


class OperationPending(ApiError):
    """202: the node accepted the transaction; it is not mined yet (poll `status_url`)."""

    status = 202
    title = "Accepted; not yet on the ledger"


def status_path(tx_hash: bytes) -> str:
    return f"/v1/partner/transactions/0x{tx_hash.hex()}"


def pending(exc: TransactionPending) -> OperationPending:
    tx_hash = "0x" + exc.tx_hash.hex()
    return OperationPending(
        "transaction_pending",
        f"transaction {tx_hash} was accepted by the ledger node but not mined within "
        f"{exc.waited:g} s; it may still succeed: poll its status_url",
        tx_hash=tx_hash,
        status_url=status_path(exc.tx_hash),
    )


def busy(exc: SenderBusy) -> Conflict:
    return Conflict(
        "earlier_transaction_pending",
        f"an earlier transaction of {exc.sender} is not mined yet; retry when it is "
        "(its status URL was in the 202 answer that accepted it)",
        pending=exc.pending,
    )


def least_visible(view: Ledger, error: ContractError, *, tenant: str) -> Exception:
    """`error` as member `tenant` may see it (see the module docstring); `view` reads the
    chain's current state."""
    args = error.args_by_name
    if "shipmentId" in args and error.name.startswith("Items"):
        state = view.shipment(int(args["shipmentId"]))
        if tenant not in (state.sender, state.receiver):
            return NotFound("shipment_not_found", f"no shipment {args['shipmentId']} of yours")
        return error
    if "id" in args and error.name.startswith("Items") and error.name not in _NOT_ABOUT_HOLDING:
        item_id = bytes(args["id"])
        # A lot rule (expiry, recall) refusing a lot quantity or a commission names the lot
        # key, which is public: it says nothing about who holds what.
        if view.item(item_id).holder != tenant and view.lot(item_id) is None:
            return ContractError("ItemsNotHolder", {"id": item_id}, contract=error.contract)
        return error
    if error.name == "RecordsAlreadyAnchored" and args.get("anchoredBy") != tenant:
        return ContractError(error.name, {"documentHash": args["documentHash"]})
    return error


class TenantLedger(Ledger):
    """A ledger handle writing for one member (`tenant`), whose refusals are least visible
    unless the member sees everything (the regulator)."""

    tenant: str
    sees_all: bool

    @classmethod
    def of(
        cls, base: Ledger, account: LocalAccount, *, tenant: str, sees_all: bool
    ) -> TenantLedger:
        clone = object.__new__(cls)
        clone.__dict__.update(base.__dict__)
        clone.account = account
        clone.tenant = tenant
        clone.sees_all = sees_all
        return clone

    def scrub(self, error: ContractError) -> Exception:
        return error if self.sees_all else least_visible(self, error, tenant=self.tenant)

    def _send(self, contract: str, fn: str, *args: Any) -> TxResult[None]:
        try:
            return super()._send(contract, fn, *args)
        except TransactionPending as exc:
            raise pending(exc) from exc
        except ContractError as exc:
            scrubbed = self.scrub(exc)
            if scrubbed is exc:
                raise
            raise scrubbed from exc
        except MedLedgerError as exc:  # a revert without a custom error (a panic, out of gas)
            raise Conflict("transaction_reverted", str(exc)) from exc

    @contextmanager
    def _in_order(self) -> Iterator[None]:
        try:
            with super()._in_order():
                yield
        except SenderBusy as exc:
            raise busy(exc) from exc
