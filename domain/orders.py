"""The two signing paths of custody orders (Ship, Receive, Cancel) and how every partner
operation's result is reported. Ship and Receive orders carry loose lot quantities too
(`lots`, `rejected_lots`; empty by default, so clients that send only ids are unchanged).

Path 1: the partner signed the EIP-712 order with its own key. The API refuses a signature
the contract would refuse (422 `signature_malformed`: not 65 bytes, `v` not 27 or 28, `r`
or `s` out of range, or a high `s`, the malleable twin of a valid one), rebuilds the order
from the request with the signed-in member as signer, recovers the signature with
`sdk.messages.recover_signer`, refuses (403 `wrong_signer`) unless it is the member, and
relays it with the platform relayer. Path 2: no signature; the API signs with the member's
custodial key and sends the transaction itself, one order of a member at a time (its order
nonce advances only when the order is mined: `sdk.ledger.Ledger.ship`).

Either way the ledger's refusals are as the member may see them (`api.tenancy`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medledger.domain.auth import Member
from medledger.domain.chain import custodial_ledger, reader, relayer_for
from medledger.domain.errors import ApiError, Forbidden, Unprocessable, contract_error_status
from medledger.domain.partner_schemas import (
    CancelIn,
    EventOut,
    LotQuantityIn,
    OperationOut,
    ReceiveIn,
    ShipIn,
    SignedFields,
)
from medledger.domain.services import Services
from medledger.sdk.abi import DecodedEvent
from medledger.sdk.errors import ContractError
from medledger.sdk.ledger import Ledger, TxResult
from medledger.sdk.messages import (
    CancelOrder,
    LotQuantity,
    ReceiveOrder,
    ShipOrder,
    recover_signer,
    sorted_lots,
)

__all__ = [
    "cancel",
    "check_signature_form",
    "jsonable",
    "lot_quantities",
    "receive",
    "refusal",
    "report",
    "ship",
]

ZERO32 = bytes(32)
# The order of secp256k1's group: a signature's r and s lie in [1, N), and Ethereum (as
# OpenZeppelin's ECDSA) takes s only in the lower half, so each signature has one form.
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def report(result: TxResult[Any], *, signed_by: str, **extra: Any) -> OperationOut:
    return report_events(
        "0x" + bytes(result.receipt["transactionHash"]).hex(),
        int(result.receipt["blockNumber"]),
        result.events,
        signed_by=signed_by,
        **extra,
    )


def report_events(
    tx_hash: str, block: int, events: list[DecodedEvent], *, signed_by: str, **extra: Any
) -> OperationOut:
    return OperationOut(
        tx_hash=tx_hash,
        block_number=block,
        signed_by=signed_by,
        events=[EventOut(name=e.name, args=jsonable(e.args)) for e in events],
        **extra,
    )


def refusal(exc: Exception) -> dict[str, Any]:
    """The problem a write would have answered for `exc` (for a failed transaction's
    status): its code, HTTP status, detail and, for a ledger rule, the error's arguments."""
    if isinstance(exc, ContractError):
        arguments = {k: jsonable(v) for k, v in exc.args_by_name.items()}
        status = contract_error_status(exc)
        return {"code": exc.name, "status": status, "detail": str(exc), "arguments": arguments}
    if isinstance(exc, ApiError):
        extra = {k: jsonable(v) for k, v in exc.extra.items()}
        return {"code": exc.code, "status": exc.status, "detail": exc.detail, **extra}
    return {"code": "transaction_reverted", "status": 409, "detail": str(exc)}


def _signed(body: SignedFields) -> tuple[bytes, int, int] | None:
    if body.signature is None:
        return None
    if body.nonce is None or body.deadline is None:
        raise ApiError(
            "incomplete_order", "a signed order needs the `nonce` and `deadline` it was signed with"
        )
    return body.signature, body.nonce, body.deadline


def check_signature_form(signature: bytes) -> None:
    """422 `signature_malformed` (with the `reason`) for a signature the contract refuses
    whatever it signs: the API answers it, not a reverted transaction."""
    if len(signature) != 65:
        reason, detail = "length", f"a signature is 65 bytes (r, s, v), not {len(signature)}"
    else:
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:64], "big")
        v = signature[64]
        if v not in (27, 28):
            reason, detail = "v", f"v must be 27 or 28, not {v}"
        elif not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
            reason, detail = "range", "r and s must lie between 1 and the curve order"
        elif s > SECP256K1_N // 2:
            reason, detail = "high_s", "s is in the upper half of the curve order (use N - s)"
        else:
            return
    raise Unprocessable("signature_malformed", detail, reason=reason)


def _check_signer(services: Services, order: Any, signature: bytes, member: Member) -> None:
    check_signature_form(signature)
    try:
        signer = recover_signer(order, reader(services).domain, signature)
    except Exception as exc:  # malformed signatures raise several exception types
        raise Forbidden("wrong_signer", f"the signature does not verify: {exc}") from exc
    if signer != member.address:
        raise Forbidden("wrong_signer", f"the order is signed by {signer}, not by {member.address}")


def lot_quantities(lots: Sequence[LotQuantityIn]) -> tuple[LotQuantity, ...]:
    """Loose lot quantities as the order carries them: ascending lot keys."""
    return sorted_lots(LotQuantity(q.lot_key, q.quantity) for q in lots)


def _custodial(services: Services, member: Member) -> Ledger:
    return custodial_ledger(services, member.address, sees_all=member.is_regulator)


def _relayer(services: Services, member: Member) -> Ledger:
    return relayer_for(services, member.address, sees_all=member.is_regulator)


def ship(services: Services, member: Member, body: ShipIn) -> OperationOut:
    doc = body.document_hash or ZERO32
    signed = _signed(body)
    if signed is None:
        result = _custodial(services, member).ship(
            body.receiver, body.item_ids, document_hash=doc, lots=lot_quantities(body.lots)
        )
        return report(result, signed_by="custodial", shipment_id=result.value)
    signature, nonce, deadline = signed
    order = ShipOrder(
        sender=member.address,
        receiver=body.receiver,
        itemIds=tuple(body.item_ids),
        documentHash=doc,
        lots=lot_quantities(body.lots),
        nonce=nonce,
        deadline=deadline,
    )
    _check_signer(services, order, signature, member)
    result = _relayer(services, member).relay_ship(order, signature)
    return report(result, signed_by="member (relayed)", shipment_id=result.value)


def receive(services: Services, member: Member, shipment_id: int, body: ReceiveIn) -> OperationOut:
    inspection = body.inspection_hash or ZERO32
    signed = _signed(body)
    if signed is None:
        result = _custodial(services, member).receive(
            shipment_id,
            temp_min=body.temp_min,
            temp_max=body.temp_max,
            rejected_ids=body.rejected_ids,
            rejected_lots=lot_quantities(body.rejected_lots),
            excursion_seconds=body.excursion_seconds,
            inspection_hash=inspection,
        )
        return report(result, signed_by="custodial", item_ids=jsonable(result.value))
    signature, nonce, deadline = signed
    order = ReceiveOrder(
        receiver=member.address,
        shipmentId=shipment_id,
        rejectedIds=tuple(body.rejected_ids),
        tempMin=body.temp_min,
        tempMax=body.temp_max,
        excursionSeconds=body.excursion_seconds,
        inspectionHash=inspection,
        rejectedLots=lot_quantities(body.rejected_lots),
        nonce=nonce,
        deadline=deadline,
    )
    _check_signer(services, order, signature, member)
    result = _relayer(services, member).relay_receive(order, signature)
    return report(result, signed_by="member (relayed)", item_ids=jsonable(result.value))


def cancel(services: Services, member: Member, shipment_id: int, body: CancelIn) -> OperationOut:
    reason = body.reason_hash or ZERO32
    signed = _signed(body)
    if signed is None:
        result = _custodial(services, member).cancel(shipment_id, reason_hash=reason)
        return report(result, signed_by="custodial")
    signature, nonce, deadline = signed
    order = CancelOrder(
        sender=member.address,
        shipmentId=shipment_id,
        reasonHash=reason,
        nonce=nonce,
        deadline=deadline,
    )
    _check_signer(services, order, signature, member)
    result = _relayer(services, member).relay_cancel(order, signature)
    return report(result, signed_by="member (relayed)")
