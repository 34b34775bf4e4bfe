"""EIP-712 custody messages (Ship, Receive, Cancel): builders and signing with eth-account.

Ship and Receive carry loose lot quantities (`LotQuantity`, in strictly ascending lot key
order) besides item ids; the nested type is part of their type strings, as EIP-712 wants.

The type strings here must match the `*_TYPEHASH` constants in `contracts/Items.sol`; a
test compares them. The domain binds every signature to one chain and one contract.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

__all__ = [
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "MESSAGE_TYPES",
    "CancelOrder",
    "Domain",
    "LotQuantity",
    "ReceiveOrder",
    "ShipOrder",
    "recover_signer",
    "sign_order",
    "sorted_lots",
    "typed_data",
]

DOMAIN_NAME = "MedLedger Items"
DOMAIN_VERSION = "1"

MESSAGE_TYPES: dict[str, list[dict[str, str]]] = {
    "Ship": [
        {"name": "sender", "type": "address"},
        {"name": "receiver", "type": "address"},
        {"name": "itemIds", "type": "bytes32[]"},
        {"name": "lots", "type": "LotQuantity[]"},
        {"name": "documentHash", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "Receive": [
        {"name": "receiver", "type": "address"},
        {"name": "shipmentId", "type": "uint64"},
        {"name": "rejectedIds", "type": "bytes32[]"},
        {"name": "rejectedLots", "type": "LotQuantity[]"},
        {"name": "tempMin", "type": "int16"},
        {"name": "tempMax", "type": "int16"},
        {"name": "excursionSeconds", "type": "uint32"},
        {"name": "inspectionHash", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "Cancel": [
        {"name": "sender", "type": "address"},
        {"name": "shipmentId", "type": "uint64"},
        {"name": "reasonHash", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "LotQuantity": [
        {"name": "lotKey", "type": "bytes32"},
        {"name": "quantity", "type": "uint32"},
    ],
}
# The struct types each primary type refers to (EIP-712 appends them to its type string).
_NESTED_TYPES: dict[str, tuple[str, ...]] = {"Ship": ("LotQuantity",), "Receive": ("LotQuantity",)}

ZERO32 = bytes(32)


@dataclass(frozen=True, slots=True)
class Domain:
    chain_id: int
    verifying_contract: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.verifying_contract),
        }


@dataclass(frozen=True, slots=True)
class LotQuantity:
    """`quantity` loose units of the lot `lotKey` (keccak256 of "/01/<gtin>/10/<lot>")."""

    lotKey: bytes
    quantity: int

    def as_tuple(self) -> tuple[bytes, int]:
        return (self.lotKey, self.quantity)


def sorted_lots(lots: Iterable[LotQuantity]) -> tuple[LotQuantity, ...]:
    """`lots` in the strictly ascending lot key order the contract wants."""
    return tuple(sorted(lots, key=lambda q: bytes(q.lotKey)))


@dataclass(frozen=True, slots=True)
class ShipOrder:
    PRIMARY = "Ship"
    sender: str
    receiver: str
    itemIds: tuple[bytes, ...]
    nonce: int
    deadline: int
    documentHash: bytes = ZERO32
    lots: tuple[LotQuantity, ...] = ()

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.sender,
            self.receiver,
            list(self.itemIds),
            [q.as_tuple() for q in self.lots],
            self.documentHash,
            self.nonce,
            self.deadline,
        )


@dataclass(frozen=True, slots=True)
class ReceiveOrder:
    PRIMARY = "Receive"
    receiver: str
    shipmentId: int
    nonce: int
    deadline: int
    tempMin: int
    tempMax: int
    rejectedIds: tuple[bytes, ...] = field(default_factory=tuple)
    excursionSeconds: int = 0
    inspectionHash: bytes = ZERO32
    rejectedLots: tuple[LotQuantity, ...] = ()

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.receiver,
            self.shipmentId,
            list(self.rejectedIds),
            [q.as_tuple() for q in self.rejectedLots],
            self.tempMin,
            self.tempMax,
            self.excursionSeconds,
            self.inspectionHash,
            self.nonce,
            self.deadline,
        )


@dataclass(frozen=True, slots=True)
class CancelOrder:
    PRIMARY = "Cancel"
    sender: str
    shipmentId: int
    nonce: int
    deadline: int
    reasonHash: bytes = ZERO32

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.sender, self.shipmentId, self.reasonHash, self.nonce, self.deadline)


Order = ShipOrder | ReceiveOrder | CancelOrder


def typed_data(order: Order, domain: Domain, *, primary_type: str | None = None) -> dict[str, Any]:
    """The full EIP-712 payload for `order`, JSON-ready as `eth_signTypedData_v4` takes it."""
    primary = primary_type or order.PRIMARY
    fields = asdict(order)
    type_order = [f["name"] for f in MESSAGE_TYPES[primary] if f["name"] in fields]
    message = {
        k: _json_value(fields[k]) for k in type_order + sorted(fields.keys() - set(type_order))
    }
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            primary: MESSAGE_TYPES[primary],
            **{name: MESSAGE_TYPES[name] for name in _NESTED_TYPES.get(primary, ())},
        },
        "primaryType": primary,
        "domain": domain.as_dict(),
        "message": message,
    }


def _json_value(value: Any) -> Any:
    """bytes as 0x-hex and tuples as lists, as eth_signTypedData_v4 expects."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, tuple | list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def sign_order(account: LocalAccount, order: Order, domain: Domain) -> bytes:
    """A 65-byte (r, s, v) signature of `order` under `domain` by `account`."""
    signed = account.sign_message(encode_typed_data(full_message=typed_data(order, domain)))
    return bytes(signed.signature)


def recover_signer(order: Order, domain: Domain, signature: bytes) -> str:
    """The address that signed `order`, as the contract would recover it."""
    message = encode_typed_data(full_message=typed_data(order, domain))
    return str(Account.recover_message(message, signature=signature))
