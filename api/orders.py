"""The two signing paths of custody orders (Ship, Receive, Cancel) and how every partner
operation's result is reported.

Path 1: the partner signed the EIP-712 order with its own key. The API rebuilds the order
from the request with the signed-in member as signer, recovers the signature with
`sdk.messages.recover_signer`, refuses (403 `wrong_signer`) unless it is the member, and
relays it with the platform relayer. Path 2: no signature; the API signs with the member's
custodial key and sends the transaction itself.
"""

from __future__ import annotations

from typing import Any

from api.auth import Member
from api.chain import custodial_ledger, reader, relayer
from api.errors import ApiError, Forbidden
from api.partner_schemas import CancelIn, EventOut, OperationOut, ReceiveIn, ShipIn, SignedFields
from api.services import Services
from sdk.abi import DecodedEvent
from sdk.ledger import TxResult
from sdk.messages import CancelOrder, ReceiveOrder, ShipOrder, recover_signer

__all__ = ["cancel", "jsonable", "receive", "report", "ship"]

ZERO32 = bytes(32)


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


def _signed(body: SignedFields) -> tuple[bytes, int, int] | None:
    if body.signature is None:
        return None
    if body.nonce is None or body.deadline is None:
        raise ApiError(
            "incomplete_order", "a signed order needs the `nonce` and `deadline` it was signed with"
        )
    return body.signature, body.nonce, body.deadline


def _check_signer(services: Services, order: Any, signature: bytes, member: Member) -> None:
    try:
        signer = recover_signer(order, reader(services).domain, signature)
    except Exception as exc:  # malformed signatures raise several exception types
        raise Forbidden("wrong_signer", f"the signature does not verify: {exc}") from exc
    if signer != member.address:
        raise Forbidden("wrong_signer", f"the order is signed by {signer}, not by {member.address}")


def ship(services: Services, member: Member, body: ShipIn) -> OperationOut:
    doc = body.document_hash or ZERO32
    signed = _signed(body)
    if signed is None:
        result = custodial_ledger(services, member.address).ship(
            body.receiver, body.item_ids, document_hash=doc
        )
        return report(result, signed_by="custodial", shipment_id=result.value)
    signature, nonce, deadline = signed
    order = ShipOrder(
        sender=member.address,
        receiver=body.receiver,
        itemIds=tuple(body.item_ids),
        documentHash=doc,
        nonce=nonce,
        deadline=deadline,
    )
    _check_signer(services, order, signature, member)
    result = relayer(services).relay_ship(order, signature)
    return report(result, signed_by="member (relayed)", shipment_id=result.value)


def receive(services: Services, member: Member, shipment_id: int, body: ReceiveIn) -> OperationOut:
    inspection = body.inspection_hash or ZERO32
    signed = _signed(body)
    if signed is None:
        result = custodial_ledger(services, member.address).receive(
            shipment_id,
            temp_min=body.temp_min,
            temp_max=body.temp_max,
            rejected_ids=body.rejected_ids,
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
        nonce=nonce,
        deadline=deadline,
    )
    _check_signer(services, order, signature, member)
    result = relayer(services).relay_receive(order, signature)
    return report(result, signed_by="member (relayed)", item_ids=jsonable(result.value))


def cancel(services: Services, member: Member, shipment_id: int, body: CancelIn) -> OperationOut:
    reason = body.reason_hash or ZERO32
    signed = _signed(body)
    if signed is None:
        result = custodial_ledger(services, member.address).cancel(shipment_id, reason_hash=reason)
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
    return report(relayer(services).relay_cancel(order, signature), signed_by="member (relayed)")
