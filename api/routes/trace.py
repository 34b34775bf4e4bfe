"""Routes: traces over the indexer — unit history, lot forward trace, container contents
(recursive) and the containers holding an item, recall scope and progress.

Lists are paginated (`limit` ≤ `settings.max_page_size`, opaque `cursor`). The regulator
sees every object; a partner only objects it holds or has held (`domain.trace`), and in a
lot's trace or a recall's scope the holders other than itself only if it made the lot.
Items are named by their 32-byte id or any GS1 code form (`web.codes.CodeParam`), a
Digital Link URI included. Times are ISO 8601 in the consortium's zone, expiries dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from medledger.domain.api_examples import (
    DISTRIBUTOR,
    HISTORY_EXAMPLE,
    ITEM_ID,
    MANUFACTURER,
    example,
)
from medledger.domain.codes import lot_key_of
from medledger.domain.errors import NotFound
from medledger.domain.partner_schemas import HistoryStepOut, PartyOut, at_time, on_day, party
from medledger.domain.trace import TraceScope, ensure_item_visible, ensure_lot_visible, item_key_of
from medledger.indexer.queries import (
    container_contents,
    containers_holding,
    lot_trace,
    recall_scope,
    unit_history,
)
from medledger.indexer.queries.counterparties import names_of
from medledger.indexer.queries.lot_quantities import LotHolding, LotMove
from medledger.indexer.queries.trace import HistoryStep
from medledger.sdk.gs1 import lot_key, validate_gtin
from medledger.web.codes import CodeParam, LotCodeParam
from medledger.web.deps import ConnDep, Page, PageDep
from medledger.web.oversight import TraceScopeDep

__all__ = ["UnitsOut", "router"]

router = APIRouter(prefix="/v1/trace", tags=["trace"])

ItemParam = CodeParam


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


def history_out(conn: Connection, steps: Sequence[HistoryStep]) -> list[HistoryStepOut]:
    """Custody steps as the API shows them: ISO 8601 times, holders with their names."""
    names = names_of(conn, {s.holder for s in steps})
    return [
        HistoryStepOut(
            kind=s.kind.name.lower(),
            block_number=s.block_number,
            at=at_time(s.timestamp),
            tx_hash="0x" + s.tx_hash.hex(),
            log_index=s.log_index,
            holder=party(s.holder, names.get(s.holder)),
            status=s.status.name.lower(),
            parent=_hex(s.parent),
            via=_hex(s.via),
            shipment_id=s.shipment_id,
        )
        for s in steps
    ]


class HistoryOut(BaseModel):
    model_config = example({"item_id": ITEM_ID, "steps": [HISTORY_EXAMPLE], "next_cursor": None})

    item_id: str
    steps: list[HistoryStepOut]
    next_cursor: str | None


@router.get("/items/{item:path}/history", response_model=HistoryOut)
def item_history(item: ItemParam, scope: TraceScopeDep, conn: ConnDep, page: PageDep) -> HistoryOut:
    """Every custody step of a unit or container, oldest first, with chain references."""
    key = item_key_of(item)
    ensure_item_visible(conn, key, scope)
    steps = unit_history(conn, key)
    window = steps[page.offset : page.offset + page.limit]
    return HistoryOut(
        item_id="0x" + key.hex(),
        steps=history_out(conn, window),
        next_cursor=page.next_cursor(len(steps)),
    )


class PackedOut(BaseModel):
    item_id: str
    code: str
    is_container: bool
    depth: int
    parent: str


class ContentsOut(BaseModel):
    model_config = example(
        {
            "container_id": ITEM_ID,
            "total": 1,
            "items": [
                {
                    "item_id": ITEM_ID,
                    "code": "(01)09506000134352(21)SN0001",
                    "is_container": False,
                    "depth": 1,
                    "parent": ITEM_ID,
                }
            ],
            "next_cursor": None,
        }
    )

    container_id: str
    total: int
    items: list[PackedOut]
    next_cursor: str | None


@router.get("/items/{item:path}/contents", response_model=ContentsOut)
def item_contents(
    item: ItemParam, scope: TraceScopeDep, conn: ConnDep, page: PageDep
) -> ContentsOut:
    """Everything inside a container, recursively, level by level."""
    key = item_key_of(item)
    ensure_item_visible(conn, key, scope)
    inside = container_contents(conn, key)
    window = inside[page.offset : page.offset + page.limit]
    return ContentsOut(
        container_id="0x" + key.hex(),
        total=len(inside),
        items=[
            PackedOut(
                item_id="0x" + p.item_key.hex(),
                code=p.code,
                is_container=p.is_container,
                depth=p.depth,
                parent="0x" + p.parent.hex(),
            )
            for p in window
        ],
        next_cursor=page.next_cursor(len(inside)),
    )


class ContainersOut(BaseModel):
    model_config = example({"item_id": ITEM_ID, "containers": [ITEM_ID]})

    item_id: str
    containers: list[str]  # innermost first


@router.get("/items/{item:path}/containers", response_model=ContainersOut)
def item_containers(item: ItemParam, scope: TraceScopeDep, conn: ConnDep) -> ContainersOut:
    """The containers an item sits in, innermost first (at most a few levels)."""
    key = item_key_of(item)
    ensure_item_visible(conn, key, scope)
    return ContainersOut(
        item_id="0x" + key.hex(),
        containers=["0x" + c.hex() for c in containers_holding(conn, key)],
    )


OrgOut = PartyOut


class UnitsOut(BaseModel):
    """A holder's units of a lot tracked by quantity (not serialised)."""

    active: int = Field(description="loose units in usable stock")
    quarantined: int = Field(description="loose units on hold")
    in_transit: int = Field(description="loose units it shipped, not yet settled by the receiver")
    cases: int = Field(description="cases it holds (active, in transit or quarantined)")
    case_units: int = Field(description="units inside those cases")
    total: int

    @classmethod
    def of(cls, h: LotHolding | None) -> UnitsOut | None:
        if h is None:
            return None
        return cls(
            active=h.active,
            quarantined=h.quarantined,
            in_transit=h.in_transit,
            cases=h.cases,
            case_units=h.case_units,
            total=h.total,
        )


class HolderOut(BaseModel):
    holder: OrgOut
    total: int
    by_status: dict[str, int]


class ReachOut(BaseModel):
    organisation: OrgOut
    first_block: int


class HolderUnitsOut(BaseModel):
    holder: OrgOut
    units: UnitsOut


class MovementOut(BaseModel):
    """One quantity of the lot that moved."""

    kind: str = Field(
        description="commissioned, shipped, received, rejected, dispensed, quarantined, "
        "released or destroyed (loose units; cases are items, traced as such)"
    )
    quantity: int
    block_number: int
    at: dt.datetime | None = Field(description="the block's time, ISO 8601")
    holder: OrgOut | None = Field(description="whose units changed; null for a shipment's")
    shipment_id: int | None
    sender: OrgOut | None
    receiver: OrgOut | None


class LotTraceOut(BaseModel):
    model_config = example(
        {
            "gtin": "09506000134352",
            "lot": "L2026-07",
            "lot_key": ITEM_ID,
            "expiry": "2029-06-30",
            "holders": [{"holder": DISTRIBUTOR, "total": 24, "by_status": {"active": 24}}],
            "reached": [
                {"organisation": MANUFACTURER, "first_block": 12},
                {"organisation": DISTRIBUTOR, "first_block": 412},
            ],
            "next_cursor": None,
            "by_quantity": False,
            "units": [],
            "movements": [],
        }
    )

    gtin: str
    lot: str
    lot_key: str
    expiry: dt.date = Field(description="YYYY-MM-DD, the consortium's zone")
    holders: list[HolderOut]
    reached: list[ReachOut]
    next_cursor: str | None
    by_quantity: bool = Field(
        default=False, description="the lot is tracked by quantity (not serialised)"
    )
    units: list[HolderUnitsOut] = Field(
        default_factory=list, description="by quantity: each holder's units now"
    )
    movements: list[MovementOut] = Field(
        default_factory=list, description="by quantity: the movements, oldest first"
    )


def _org(address: str | None, name: str | None) -> OrgOut | None:
    return None if address is None else OrgOut(address=address, name=name or "")


def _movement(m: LotMove) -> MovementOut:
    return MovementOut(
        kind=m.kind.name.lower(),
        quantity=m.quantity,
        block_number=m.block_number,
        at=None if m.timestamp is None else at_time(m.timestamp),
        holder=_org(m.holder, m.holder_name),
        shipment_id=m.shipment_id,
        sender=_org(m.sender, m.sender_name),
        receiver=_org(m.receiver, m.receiver_name),
    )


@router.get("/lots/{gtin}/{lot}", response_model=LotTraceOut)
def lot_forward_trace(
    gtin: Annotated[str, Path(min_length=8, max_length=14, pattern=r"^[0-9]+$")],
    lot: Annotated[str, Path(min_length=1, max_length=20)],
    scope: TraceScopeDep,
    conn: ConnDep,
    page: PageDep,
) -> LotTraceOut:
    """Who holds a lot's units now (largest first, paginated) and everyone it reached; a
    member other than the lot's manufacturer sees only its own line of both."""
    key = lot_key(validate_gtin(gtin), lot)
    return _lot_trace(conn, key, f"lot {lot!r} of GTIN {gtin}", scope, page)


@router.get("/lots/{code:path}", response_model=LotTraceOut)
def lot_trace_by_code(
    code: LotCodeParam, scope: TraceScopeDep, conn: ConnDep, page: PageDep
) -> LotTraceOut:
    """`GET /v1/trace/lots/{gtin}/{lot}`, the lot named by its key or any GS1 code form
    with a GTIN and a lot, e.g. `(01)09506000134352(10)L2026-07` or a Digital Link URI."""
    return _lot_trace(conn, lot_key_of(code), f"lot {code[:80]!r}", scope, page)


def _lot_trace(
    conn: Connection, key: bytes, what: str, scope: TraceScope, page: Page
) -> LotTraceOut:
    trace = lot_trace(conn, key)
    if trace is None:
        raise NotFound("unknown_lot", f"no {what} on the ledger")
    ensure_lot_visible(conn, trace.lot_index, scope, what)
    trace = trace.seen_by(scope.member)
    window = trace.holders[page.offset : page.offset + page.limit]
    return LotTraceOut(
        gtin=trace.gtin,
        lot=trace.lot_number,
        lot_key="0x" + key.hex(),
        expiry=on_day(trace.expiry),
        holders=[
            HolderOut(
                holder=OrgOut(address=h.holder.address, name=h.holder.name),
                total=h.total,
                by_status={s.name.lower(): n for s, n in h.by_status.items()},
            )
            for h in window
        ],
        reached=[
            ReachOut(organisation=OrgOut(address=o.address, name=o.name), first_block=b)
            for o, b in trace.reached
        ],
        next_cursor=page.next_cursor(len(trace.holders)),
        by_quantity=bool(trace.units or trace.movements),
        units=[
            HolderUnitsOut(holder=OrgOut(address=u.address, name=u.name), units=units)
            for u in trace.units
            if (units := UnitsOut.of(u)) is not None
        ],
        movements=[_movement(m) for m in trace.movements],
    )


class RecallHolderOut(BaseModel):
    holder: OrgOut
    outstanding: int
    dispensed: int
    units: UnitsOut | None = Field(
        default=None, description="for a lot tracked by quantity: its units by state"
    )


class RecallScopeOut(BaseModel):
    model_config = example(
        {
            "recall_id": 3,
            "level": 2,
            "open": True,
            "manufacturer": MANUFACTURER,
            "outstanding": 24,
            "returned": 0,
            "destroyed": 0,
            "by_quantity": False,
            "holders": [{"holder": DISTRIBUTOR, "outstanding": 24, "dispensed": 0, "units": None}],
            "next_cursor": None,
        }
    )

    recall_id: int
    level: int
    open: bool
    manufacturer: OrgOut
    outstanding: int
    returned: int
    destroyed: int
    by_quantity: bool = Field(
        description="the lot is tracked by quantity: every figure counts units, cases "
        "as the units inside them"
    )
    holders: list[RecallHolderOut]
    next_cursor: str | None


@router.get("/recalls/{recall_id}", response_model=RecallScopeOut)
def recall_progress(
    recall_id: Annotated[int, Path(ge=1, le=2**32 - 1)],
    scope: TraceScopeDep,
    conn: ConnDep,
    page: PageDep,
) -> RecallScopeOut:
    """A recall's scope and progress: outstanding and dispensed per field holder,
    returned to the manufacturer, destroyed."""
    found = recall_scope(conn, recall_id)
    if found is None:
        raise NotFound("unknown_recall", f"no recall {recall_id} on the ledger")
    ensure_lot_visible(conn, found.lot_index, scope, f"recall {recall_id}")
    found = found.seen_by(scope.member)
    window = found.holders[page.offset : page.offset + page.limit]
    return RecallScopeOut(
        recall_id=found.recall_id,
        level=found.level,
        open=found.open,
        manufacturer=OrgOut(address=found.manufacturer.address, name=found.manufacturer.name),
        outstanding=found.outstanding,
        returned=found.returned,
        destroyed=found.destroyed,
        by_quantity=found.by_quantity,
        holders=[
            RecallHolderOut(
                holder=OrgOut(address=h.holder.address, name=h.holder.name),
                outstanding=h.outstanding,
                dispensed=h.dispensed,
                units=UnitsOut.of(h.quantity),
            )
            for h in window
        ],
        next_cursor=page.next_cursor(len(found.holders)),
    )
