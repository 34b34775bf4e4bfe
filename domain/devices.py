"""Devices: a manufacturer registers its products and their lots (recalls are
`domain.recall_actions`, with a sealed notice).

Each write goes through the member's custodial ledger handle (refusals as the member may
see them, `domain.tenancy`) and answers once the read model shows it
(`domain.read_your_writes`)."""

from __future__ import annotations

from medledger.domain.auth import Member
from medledger.domain.chain import custodial_ledger
from medledger.domain.orders import report
from medledger.domain.partner_schemas import LotIn, OperationOut, ProductIn, hexs
from medledger.domain.read_your_writes import settled
from medledger.domain.record_notes import anchored, seal_note
from medledger.domain.records import RecordKind
from medledger.domain.services import Services
from medledger.sdk.gs1 import lot_key
from medledger.sdk.ledger import Ledger

__all__ = ["ZERO32", "member_ledger", "register_lot", "register_product"]

ZERO32 = bytes(32)


def member_ledger(services: Services, member: Member) -> Ledger:
    """The member's custodial handle; its refusals say only what the member may see."""
    return custodial_ledger(services, member.address, sees_all=member.is_regulator)


def register_product(services: Services, *, member: Member, product: ProductIn) -> OperationOut:
    result = member_ledger(services, member).register_product(
        product.gtin,
        company_prefix=product.company_prefix,
        device_class=product.device_class,
        certificate_hash=product.certificate_hash,
        registration_expiry=product.registration_expiry,
        temp_min=product.temp_min,
        temp_max=product.temp_max,
    )
    return settled(services, report(result, signed_by="custodial"))


def register_lot(services: Services, *, member: Member, lot: LotIn) -> OperationOut:
    """Register a lot; a typed `qc_release` is sealed (QC_RELEASE, for the manufacturer
    and the regulator) and only its salted commitment goes on chain."""
    ledger = member_ledger(services, member)
    qc = lot.qc_release_hash or ZERO32
    sealed = None
    if lot.qc_release is not None:
        sealed = seal_note(
            services,
            kind=RecordKind.QC_RELEASE,
            author=member.address,
            subject_id=lot_key(lot.gtin, lot.lot),
            body={"gtin": lot.gtin, "lot": lot.lot, "qc_release": lot.qc_release.strip()},
        )
        qc = sealed.commitment
    result = ledger.register_lot(
        lot.gtin,
        lot.lot,
        production_date=lot.production_date,
        expiry=lot.expiry,
        qc_release_hash=qc,
    )
    out = report(result, signed_by="custodial", lot_key=hexs(result.value))
    if sealed is not None:
        out = anchored(services, sealed, out)
    return settled(services, out)
