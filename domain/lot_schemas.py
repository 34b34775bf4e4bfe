"""Request bodies of the lot-tracked custody routes (`api.routes.lots`): quantities of a
lot, cases of a package level. Quantities are 1..2^32-1 (the ledger's uint32), lists hold
1..MAX_BATCH entries, each lot at most once."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from medledger.domain.api_examples import LOT_CODE, example
from medledger.domain.partner_schemas import (
    MAX_BATCH,
    Hex32,
    ItemRef,
    LotQuantityIn,
    LotRef,
    Quantity,
    RecordNoteIn,
    Strict,
)

__all__ = ["CasesIn", "CommissionLotIn", "LotsIn", "PackCasesIn"]

Serial = Annotated[str, Field(min_length=1, max_length=20)]


class CommissionLotIn(Strict):
    """Commission `quantity` loose units of a lot of a lot-tracked product."""

    model_config = example({"lot_key": LOT_CODE, "quantity": 1000})

    lot_key: LotRef
    quantity: Quantity


class LotsIn(Strict):
    """Dispense, quarantine, release or destroy loose quantities: the lots and a
    record/reason hash (only the hash is on chain)."""

    model_config = example(
        {
            "lots": [{"lot_key": LOT_CODE, "quantity": 20}],
            "record": {"reference": "WARD-7", "note": "used on ward 7"},
        }
    )

    lots: list[LotQuantityIn] = Field(min_length=1, max_length=MAX_BATCH)
    record_hash: Hex32 | None = None
    record: RecordNoteIn | None = Field(default=None, description="the record or reason, sealed")

    @model_validator(mode="after")
    def _distinct(self) -> LotsIn:
        keys = [q.lot_key for q in self.lots]
        if len(set(keys)) != len(keys):
            raise ValueError("lots: each lot at most once (add the quantities up)")
        if self.record is not None and self.record_hash is not None:
            raise ValueError("give `record` or `record_hash`, not both")
        return self


class PackCasesIn(Strict):
    """Pack loose units of `lot` into cases of the package level `package_gtin`, one case
    per serial."""

    model_config = example(
        {"package_gtin": "19506000134359", "lot": "L2026-07", "serials": ["C0001", "C0002"]}
    )

    package_gtin: str = Field(pattern=r"^\d{14}$")
    lot: str = Field(min_length=1, max_length=20)
    serials: list[Serial] = Field(min_length=1, max_length=MAX_BATCH)


class CasesIn(Strict):
    model_config = example({"case_ids": ["(01)19506000134359(21)C0001"]})

    case_ids: list[ItemRef] = Field(min_length=1, max_length=MAX_BATCH)
