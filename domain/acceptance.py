"""The acceptance record (验收记录) of a receipt: per line the product, specification/model,
registration number, lot, expiry, quantities received/accepted/rejected and the conclusion
(合格/不合格), with the inspector, the temperature on arrival and a note.

The record is sealed (`domain.records`, kind ACCEPTANCE) for the receiver (its author), the
sender, the manufacturers of the products inside and the regulator; its salted commitment
is the `inspectionHash` the receipt carries on chain, so the chain holds nothing guessable
and a regulator can verify the record against it. A shipment's record is found by its
subject (the shipment id) and read back by exactly those parties (404 for anyone else).
"""

from __future__ import annotations

from typing import Any

from medledger.domain import records
from medledger.domain.acceptance_schemas import AcceptanceIn, AcceptanceLine
from medledger.domain.auth import Member
from medledger.domain.chain import reader
from medledger.domain.errors import NotFound
from medledger.domain.services import Services
from medledger.sdk.model import ShipmentState

__all__ = [
    "AcceptanceIn",
    "AcceptanceLine",
    "read_acceptance",
    "seal_acceptance",
    "shipment_subject",
]


def shipment_subject(shipment_id: int) -> bytes:
    """The subject id of a shipment's records: its id as a 32-byte big-endian number."""
    return shipment_id.to_bytes(32, "big")


def _manufacturers(services: Services, gtins: set[str]) -> list[str]:
    chain = reader(services)
    found = set()
    for gtin in sorted(gtins):
        product = chain.product(gtin)
        if product is None:  # a package level (case): its unit product's manufacturer
            level = chain.package_level(gtin)
            product = None if level is None else chain.product(level.base_gtin)
        if product is not None:
            found.add(str(product.manufacturer))
    return sorted(found)


def seal_acceptance(
    services: Services, *, member: Member, shipment: ShipmentState, record: AcceptanceIn
) -> records.SealedRecord:
    """Seal the acceptance record of `shipment` (addressed to `member`) for its parties; the
    caller passes `commitment` as the receipt's inspection hash."""
    manufacturers = _manufacturers(services, {line.gtin for line in record.lines})
    body: dict[str, Any] = {
        "shipment_id": shipment.shipment_id,
        "sender": shipment.sender,
        "receiver": shipment.receiver,
        "inspector": record.inspector,
        "signed_in_member": member.address,
        "temperature_on_arrival": record.temperature_on_arrival,
        "note": record.note,
        "lines": [line.model_dump() for line in record.lines],
    }
    return records.seal(
        services,
        kind=records.RecordKind.ACCEPTANCE,
        author=member.address,
        readers=[shipment.sender, *manufacturers],
        subject_id=shipment_subject(shipment.shipment_id),
        body=body,
    )


def read_acceptance(services: Services, *, member: Member, shipment_id: int) -> records.RecordView:
    """The newest acceptance record of a shipment shared with `member` (404 otherwise)."""
    found = records.list_for(
        services,
        reader=member.address,
        regulator=member.is_regulator,
        kind=records.RecordKind.ACCEPTANCE,
        subject_id=shipment_subject(shipment_id),
        limit=1,
    )
    if not found:
        raise NotFound("acceptance_not_found", f"no acceptance record of shipment {shipment_id}")
    return records.read(services, found[0].id, reader=member.address, regulator=member.is_regulator)
