"""The request shape of an acceptance record (验收记录), for the receive API and the portal's
receive form alike (`domain.acceptance` seals it)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["AcceptanceIn", "AcceptanceLine"]

Text = Annotated[str, Field(max_length=200)]
Quantity = Annotated[int, Field(ge=0, le=10_000_000)]


class AcceptanceLine(BaseModel):
    """One product/lot line of the acceptance record."""

    model_config = ConfigDict(extra="forbid")
    gtin: Annotated[str, Field(pattern=r"^[0-9]{14}$")]
    product: Text
    specification: Text = ""
    registration_number: Annotated[str, Field(max_length=100)] = ""
    lot: Annotated[str, Field(max_length=20)] = ""
    expiry: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None
    quantity_received: Quantity
    quantity_accepted: Quantity
    quantity_rejected: Quantity = 0
    conclusion: Literal["qualified", "unqualified"]  # 合格 / 不合格
    note: Annotated[str, Field(max_length=500)] = ""

    @model_validator(mode="after")
    def _balanced(self) -> AcceptanceLine:
        if self.quantity_accepted + self.quantity_rejected != self.quantity_received:
            raise ValueError("accepted plus rejected must equal the quantity received")
        return self


class AcceptanceIn(BaseModel):
    """The full acceptance record of a receipt."""

    model_config = ConfigDict(extra="forbid")
    lines: Annotated[list[AcceptanceLine], Field(min_length=1, max_length=100)]
    inspector: Annotated[str, Field(min_length=1, max_length=100)]
    temperature_on_arrival: Annotated[int, Field(ge=-32768, le=32767)] | None = None  # 0.1 °C
    note: Annotated[str, Field(max_length=2000)] = ""
