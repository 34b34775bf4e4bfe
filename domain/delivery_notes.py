"""What a shipment's sealed delivery note may carry beyond its reference and note: the
business transactions the sender names at ship time (CBV 2.0 `bizTransactionList`: a
purchase order, despatch advice, invoice, ...) and the sites it ships from and to.
Business data, so never on chain: sealed with the note for the sender, the receiver and
the regulator (`domain.record_notes`), and exported only to them (`api.epcis.enrich`).

This module holds the shapes only; that a site belongs to the sender or receiver is
checked against the read model when the note is sealed (`record_notes.check_sites`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from medledger.sdk.errors import Gs1Error
from medledger.sdk.gs1 import validate_gln

__all__ = [
    "BIZ_TRANSACTION_TYPES",
    "MAX_BIZ_ID",
    "MAX_BIZ_TRANSACTIONS",
    "BizTransactionIn",
    "BizTransactionType",
    "BizTransactions",
    "SiteGln",
]

# CBV 2.0 business transaction types (BTT-...)
BIZ_TRANSACTION_TYPES = (
    "bol",
    "cert",
    "desadv",
    "inv",
    "pedigree",
    "po",
    "poc",
    "prodorder",
    "recadv",
    "rma",
    "testprd",
    "testres",
    "upevt",
)
BizTransactionType = Literal[
    "bol",
    "cert",
    "desadv",
    "inv",
    "pedigree",
    "po",
    "poc",
    "prodorder",
    "recadv",
    "rma",
    "testprd",
    "testres",
    "upevt",
]
MAX_BIZ_ID = 128
MAX_BIZ_TRANSACTIONS = 20
# printable, no surrounding spaces
_PRINTABLE = r"^[^\x00-\x20\x7f]([^\x00-\x1f\x7f]*[^\x00-\x20\x7f])?$"


def _gln(value: str) -> str:
    try:
        return validate_gln(value)
    except Gs1Error as exc:
        raise ValueError(str(exc)) from exc


SiteGln = Annotated[
    str,
    Field(min_length=13, max_length=13, description="a site's GS1 GLN, 13 digits"),
    AfterValidator(_gln),
]


class BizTransactionIn(BaseModel):
    """One business transaction: its CBV type and its id (as the issuer wrote it, or a
    URI such as `urn:epcglobal:cbv:bt:<GLN>:<id>`)."""

    model_config = ConfigDict(extra="forbid")

    type: BizTransactionType
    id: str = Field(min_length=1, max_length=MAX_BIZ_ID, pattern=_PRINTABLE)


BizTransactions = Annotated[list[BizTransactionIn], Field(max_length=MAX_BIZ_TRANSACTIONS)]
