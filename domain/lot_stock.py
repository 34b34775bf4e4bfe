"""A member's stock of lot-tracked devices, as people read it: per lot the loose units
(Active, Quarantined, shipped and not yet received) and the cases, with the product's name
and model from its public master data (`domain.master_data.current_record`). Both faces call
it: the partner API's `GET /v1/partner/inventory/lots` and the portal's stock pages. The
counts are `indexer.queries.lot_quantities.lot_stock`; a member only ever reads its own."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from medledger.domain.master_data import current_record
from medledger.domain.services import Services
from medledger.indexer.db import Sql
from medledger.indexer.queries.lot_quantities import LotStockLine, lot_stock
from medledger.indexer.queries.stock import RecallHold, recall_holds

__all__ = ["Hold", "LotStock", "holds_of", "lot_stock_of", "stock_holds"]


@dataclass(frozen=True, slots=True)
class LotStock:
    line: LotStockLine
    name_zh: str | None  # None while the manufacturer has anchored no master data
    name_en: str | None
    model: str | None

    def name(self, lang: str) -> str | None:
        """The product's name in `lang` ("en" or zh), falling back to the Chinese one."""
        return self.name_en if lang == "en" and self.name_en else self.name_zh


def lot_stock_of(services: Services, conn: Connection, holder: str) -> list[LotStock]:
    """`holder`'s units of lot-tracked lots, soonest expiry first, named."""
    found = []
    for line in lot_stock(Sql(conn), holder):
        record = current_record(services, line.gtin)
        if record is None:
            found.append(LotStock(line, None, None, None))
        else:
            found.append(LotStock(line, record.name_zh, record.name_en or None, record.model))
    return found


@dataclass(frozen=True, slots=True)
class Hold:
    """Why stock may not be used or shipped on as usual: "recalled" (with the open
    recall's id and level: it goes back to the manufacturer or to destruction only) or
    "quarantined" (held back by its holder until released)."""

    kind: str
    recall_id: int | None = None
    level: int | None = None


def stock_holds(conn: Connection, holder: str) -> dict[tuple[str, str], RecallHold]:
    """The open recalls touching `holder`'s stock, by (gtin, lot number)."""
    return recall_holds(conn, holder)


def holds_of(
    recalls: dict[tuple[str, str], RecallHold], gtin: str, lot: str, *, quarantined: bool
) -> list[Hold]:
    """The holds on one stock line: recalled (if its lot is under an open recall) and
    quarantined (if the line holds quarantined units)."""
    found = []
    recall = recalls.get((gtin, lot))
    if recall is not None:
        found.append(Hold("recalled", recall.recall_id, recall.level))
    if quarantined:
        found.append(Hold("quarantined"))
    return found
