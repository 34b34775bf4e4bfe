"""Plain typed values for what the contracts store: roles, statuses and view records."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "ItemState",
    "ItemStatus",
    "Licence",
    "LicenceKind",
    "LotRecord",
    "Member",
    "MemberStatus",
    "ProductRecord",
    "Role",
    "class_mask",
    "ShipmentState",
    "ShipmentStatus",
]


class Role(IntEnum):
    NONE = 0
    REGULATOR = 1
    MANUFACTURER = 2
    DISTRIBUTOR = 3
    LOGISTICS = 4
    HOSPITAL = 5


class MemberStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2


class LicenceKind(IntEnum):
    PRODUCTION = 1
    DISTRIBUTION = 2
    PRACTICE = 3
    LOGISTICS = 4


class ItemStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    IN_TRANSIT = 2
    QUARANTINED = 3
    DISPENSED = 4
    DESTROYED = 5
    UNPACKED = 6  # a case (package-level item) whose units went back to loose quantity


class ShipmentStatus(IntEnum):
    NONE = 0
    IN_TRANSIT = 1
    RECEIVED = 2
    REJECTED = 3
    CANCELLED = 4


def class_mask(*device_classes: int) -> int:
    """The licence class mask covering the given device classes (1..3)."""
    mask = 0
    for c in device_classes:
        if c not in (1, 2, 3):
            raise ValueError(f"device class must be 1, 2 or 3, not {c}")
        mask |= 1 << c
    return mask


@dataclass(frozen=True, slots=True)
class Member:
    role: Role
    status: MemberStatus
    admitted_at: int


@dataclass(frozen=True, slots=True)
class Licence:
    """A licence as attested: its number in clear (public registration data), the device
    classes it covers (`class_mask`), expiry, issuing authority, business scope as
    classification codes ("07", "07-03", ...), warehouse address and province."""

    number: str
    class_mask: int
    valid_until: int
    authority: str = ""
    scope: tuple[str, ...] = ()
    warehouse_address: str = ""
    province: str = ""


class ApprovalPolicy(IntEnum):
    """What a receiver does with goods outside its approved-supplier/-product files
    (Partners.ApprovalPolicy): no check, hold them Quarantined for QA review, or refuse."""

    OFF = 0
    HOLD = 1
    REFUSE = 2


@dataclass(frozen=True, slots=True)
class ProductRecord:
    manufacturer: str
    device_class: int
    temp_min: int
    temp_max: int
    registration_expiry: int
    certificate_hash: bytes
    serialised: bool = True


@dataclass(frozen=True, slots=True)
class PackageLevelRecord:
    """A packaging level: `quantity` of `child_gtin` per package, `base_quantity` units of
    `base_gtin` in all."""

    package_gtin: str
    child_gtin: str
    quantity: int
    base_gtin: str
    base_quantity: int


@dataclass(frozen=True, slots=True)
class LotRecord:
    lot_index: int
    gtin: str
    production_date: int
    expiry: int
    active_recall: int


@dataclass(frozen=True, slots=True)
class ItemState:
    """Effective state: a packed item reports its outermost container's holder and status."""

    holder: str
    status: ItemStatus
    is_container: bool
    lot_index: int
    parent_id: bytes | None


@dataclass(frozen=True, slots=True)
class ShipmentState:
    shipment_id: int
    sender: str
    receiver: str
    status: ShipmentStatus
    item_count: int
    temp_min: int
    temp_max: int
    items_hash: bytes
    class_mask: int = 0
    lot_count: int = 0  # loose lot quantities shipped (Items.shipmentLots)
    held: bool = False  # outside the receiver's approved files, policy Hold: lands Quarantined
