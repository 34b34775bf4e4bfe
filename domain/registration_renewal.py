"""Registration renewal (注册证延续): a manufacturer records the new expiry of a product's
registration certificate and its (public) certificate number on the ledger
(`Devices.renewRegistration`); the portal keeps the new certificate's copy in the encrypted
document store beside it. Only the product's manufacturer renews it: for anyone else the
product is not found (404)."""

from __future__ import annotations

import datetime as dt
import time

from pydantic import Field

from medledger.domain.auth import Member
from medledger.domain.chain import reader
from medledger.domain.devices import member_ledger
from medledger.domain.errors import NotFound, Unprocessable
from medledger.domain.master_data import certificate_hash, expiry_timestamp
from medledger.domain.orders import report
from medledger.domain.partner_schemas import OperationOut, Strict
from medledger.domain.read_your_writes import settled
from medledger.domain.services import Services
from medledger.sdk.dates import day_of

__all__ = ["RenewalIn", "renew_registration"]


class RenewalIn(Strict):
    gtin: str = Field(pattern=r"^[0-9]{14}$")
    certificate_number: str = Field(min_length=1, max_length=100)
    registration_expiry: dt.date


def renew_registration(services: Services, *, member: Member, renewal: RenewalIn) -> OperationOut:
    """Renew the registration of a product the member makes. 404 `renewal_product_not_found` for a
    product that is not the member's; 422 `renewal_expiry_not_future` for a new expiry
    that is not after today."""
    product = reader(services).product(renewal.gtin)
    if product is None or str(product.manufacturer).lower() != member.address.lower():
        raise NotFound("renewal_product_not_found", f"no product {renewal.gtin} of yours")
    if renewal.registration_expiry <= day_of(int(time.time())):
        raise Unprocessable(
            "renewal_expiry_not_future", "the renewed registration must expire after today"
        )
    result = member_ledger(services, member).renew_registration(
        renewal.gtin,
        certificate_hash=certificate_hash(renewal.certificate_number.strip()),
        registration_expiry=expiry_timestamp(renewal.registration_expiry),
    )
    return settled(services, report(result, signed_by="custodial"))
