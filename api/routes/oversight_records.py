"""The oversight feed of sealed records (`domain.oversight_feed`), partner mode only and for
the regulator member only (`RegulatorMemberOnly`: 404 in regulator mode, 401 without a
sign-in, 403 for any other member).

`GET /v1/partner/oversight/records` pages every record of this store, opened (salt and
canonical body) for the regulator's deployment, which checks each against its commitment
and stores it re-sealed under its own keys. `POST /v1/partner/oversight/records` is the
other way: a record the regulator's deployment wrote (a recall's notice it ordered),
checked here against its commitment the same way and stored under the same id, so the
holders the notice is shared with read it here (422 `record_commitment_mismatch` when it
does not match; nothing is stored)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from medledger.domain.errors import Forbidden
from medledger.domain.oversight_feed import (
    MAX_RECORD_PAGE,
    RecordCursor,
    RecordOut,
    RecordPage,
    RecordStored,
    import_record,
    opened_records,
)
from medledger.domain.partner_schemas import PROBLEMS
from medledger.web.deps import ServicesDep
from medledger.web.members import CurrentMember
from medledger.web.oversight import RegulatorMemberOnly, check_regulator_member

__all__ = ["router"]

router = APIRouter(responses=PROBLEMS)


@router.get(
    "/v1/partner/oversight/records",
    response_model=RecordPage,
    tags=["oversight"],
    dependencies=[RegulatorMemberOnly],
)
def oversight_records(
    services: ServicesDep,
    after: Annotated[
        str,
        Query(pattern=RecordCursor.PATTERN, description="`created_at:id` of the last one read"),
    ] = "0:",
    limit: Annotated[int, Query(ge=1, le=MAX_RECORD_PAGE)] = MAX_RECORD_PAGE,
) -> RecordPage:
    """The regulator's feed of sealed records, opened, in (created_at, id) order."""
    return opened_records(services, RecordCursor.parse(after), limit=limit)


@router.post(
    "/v1/partner/oversight/records",
    response_model=RecordStored,
    tags=["oversight"],
)
def deliver_record(item: RecordOut, member: CurrentMember, services: ServicesDep) -> RecordStored:
    """A record the regulator's deployment wrote, delivered here: stored if it matches its
    commitment (held already: `stored` false)."""
    check_regulator_member(services, member)
    if item.author != member.address.lower():
        raise Forbidden("regulator_only", "the regulator delivers only records it wrote")
    return RecordStored(stored=import_record(services, item))
