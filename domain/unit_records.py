"""What the records about one unit share: who stands where towards it (its holder, the
manufacturer of its lot), anchoring a sealed record with `Records.anchorDocument` as its
author, and reading the records of a unit or one record by id as a party.

Used by `domain.returns` (return orders, explants) and `domain.service_records`
(installation, maintenance, calibration, repair)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medledger.domain import records
from medledger.domain.auth import Member
from medledger.domain.chain import reader
from medledger.domain.devices import member_ledger
from medledger.domain.errors import NotFound
from medledger.domain.orders import report
from medledger.domain.partner_schemas import OperationOut
from medledger.domain.read_your_writes import settled
from medledger.domain.records import RecordKind, RecordView, SealedRecord
from medledger.domain.services import Services
from medledger.sdk.model import ItemStatus

__all__ = ["UnitParties", "anchor_sealed", "read_record", "unit_parties", "unit_records"]


@dataclass(frozen=True, slots=True)
class UnitParties:
    holder: str
    manufacturer: str
    status: ItemStatus


def unit_parties(services: Services, item_id: bytes, *, member: Member) -> UnitParties:
    """The unit's holder and manufacturer; 404 `item_not_found` for a unit that does not
    exist, is a container, or that `member` neither holds nor made (nor regulates)."""
    ledger = reader(services)
    item = ledger.item(item_id)
    missing = NotFound("item_not_found", f"no unit 0x{item_id.hex()} among the units you hold")
    if item.status is ItemStatus.NONE or item.is_container:
        raise missing
    parties = UnitParties(item.holder, ledger.lot_manufacturer(item.lot_index), item.status)
    if not (member.is_regulator or member.address in (parties.holder, parties.manufacturer)):
        raise missing
    return parties


def anchor_sealed(services: Services, *, member: Member, record: SealedRecord) -> OperationOut:
    """Anchor `record`'s commitment about its subject (`Records.anchorDocument`, signed by
    the author's custodial key)."""
    ledger = member_ledger(services, member)
    kind = records.ANCHOR_KINDS[RecordKind(record.kind)]
    result = ledger.anchor_document(record.commitment, subject_id=record.subject_id, kind=kind)
    out = report(result, signed_by="custodial", record_id=record.id)
    records.set_anchor(services, record.id, out.tx_hash)
    return settled(services, out)


def read_record(
    services: Services, record_id: str, *, member: Member, kinds: frozenset[RecordKind] | None
) -> RecordView:
    """One record `member` is party to (of `kinds`, if given); 404 `record_not_found`
    otherwise, as for one that does not exist."""
    try:
        view = records.read(
            services, record_id, reader=member.address, regulator=member.is_regulator
        )
    except NotFound:
        view = None
    if (
        view is None
        or (kinds is not None and view.record.kind not in kinds)
        or not _settled(view.record, member)
    ):
        raise NotFound("record_not_found", f"no record {record_id[:80]!r} shared with you")
    return view


def _settled(record: SealedRecord, member: Member) -> bool:
    """A record the chain never took (its write was refused) is its author's alone."""
    return record.anchored_tx is not None or record.author == member.address.lower()


def unit_records(
    services: Services, item_id: bytes, *, member: Member, limit: int = 100, offset: int = 0
) -> list[SealedRecord]:
    """The records about the unit that `member` may read, newest first; 404
    `item_not_found` for a unit it neither holds, made nor has a record about (as for a
    unit that does not exist)."""
    found = records.list_for(
        services,
        reader=member.address,
        regulator=member.is_regulator,
        subject_id=item_id,
        limit=limit,
        offset=offset,
    )
    found = [r for r in found if _settled(r, member)]
    if not found and offset == 0:
        unit_parties(services, item_id, member=member)
    return found


def body_of(view: RecordView) -> dict[str, Any]:
    return dict(view.body)
