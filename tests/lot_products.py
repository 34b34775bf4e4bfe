"""A lot-tracked consumable for the tests of the faces: GAUZE (class II, not serialised),
its lot G-01, and a case of 10 (package level), registered by the demo manufacturer."""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import keccak

from medledger.ops.demo.consortium import YEAR, Consortium
from medledger.sdk.gs1 import make_gtin
from medledger.sdk.ledger import Ledger
from medledger.sdk.messages import LotQuantity

DAY = 24 * 3600


@dataclass(frozen=True)
class Gauze:
    gtin: str
    case_gtin: str
    lot: str
    lot_key: bytes
    lot_index: int


def register_gauze(c: Consortium, now: int, *, item_reference: int = 66001) -> Gauze:
    m = c.manufacturer
    gtin = make_gtin(indicator=0, company_prefix=c.prefix, item_reference=item_reference)
    case_gtin = make_gtin(indicator=1, company_prefix=c.prefix, item_reference=item_reference)
    m.register_product(
        gtin,
        company_prefix=c.prefix,
        device_class=2,
        certificate_hash=keccak(text="gauze"),
        registration_expiry=now + 2 * YEAR,
        temp_min=20,
        temp_max=80,
        serialised=False,
    )
    key = m.register_lot(gtin, "G-01", production_date=now - DAY, expiry=now + YEAR).value
    m.register_package_level(case_gtin, child_gtin=gtin, quantity=10)
    lot = m.lot(key)
    assert lot is not None
    return Gauze(gtin, case_gtin, "G-01", key, lot.lot_index)


def deliver(c: Consortium, gauze: Gauze, receiver: Ledger, quantity: int) -> None:
    """Commission `quantity` units and ship them loose to `receiver`, who accepts them."""
    c.manufacturer.commission_lot(gauze.lot_key, quantity)
    loose = [LotQuantity(gauze.lot_key, quantity)]
    shipment = c.manufacturer.ship(receiver.address, [], lots=loose).value
    receiver.receive(shipment, temp_min=40, temp_max=60)
