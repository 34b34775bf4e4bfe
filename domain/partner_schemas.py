"""Request and response bodies of the partner routes, and the hex field types they use.

Requests forbid unknown fields (a field outside the schema is rejected, never assigned).
Hashes and ids are 0x-prefixed 32-byte hex; addresses are 20-byte hex (any case).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

from eth_utils import is_address, to_checksum_address
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from medledger.domain.acceptance_schemas import AcceptanceIn
from medledger.domain.api_examples import (
    ADDRESS,
    HISTORY_EXAMPLE,
    INVENTORY_EXAMPLE,
    LOT_CODE,
    OPERATION_EXAMPLE,
    PENDING_EXAMPLE,
    PROBLEM_EXAMPLE,
    SHIPMENT_EXAMPLE,
    TX_HASH,
    UNIT_CODE,
    example,
)
from medledger.domain.codes import MAX_CODE_LENGTH, item_key_of, lot_key_of
from medledger.domain.delivery_notes import BizTransactions, SiteGln
from medledger.sdk.dates import consortium_zone, day_end, day_of, day_start

__all__ = [
    "Address",
    "Hex32",
    "HexBytes",
    "ItemRef",
    "LotRef",
    "OperationOut",
    "PROBLEMS",
    "PartyOut",
    "PendingOut",
    "ProblemOut",
    "TemperatureOut",
    "TransactionStatusOut",
]


def _hex_bytes(value: str) -> bytes:
    text = value[2:] if value[:2] in ("0x", "0X") else value
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise ValueError(f"{value[:80]!r} is not hex") from exc


def _hex32(value: str) -> bytes:
    data = _hex_bytes(value)
    if len(data) != 32:
        raise ValueError(f"expected 32 bytes of hex, got {len(data)}")
    return data


def _address(value: str) -> str:
    if not is_address(value):
        raise ValueError(f"{value[:80]!r} is not a 20-byte hex address")
    return str(to_checksum_address(value))


def _checked_str(fn: Any, max_length: int) -> Any:
    def check(value: object) -> bytes:
        if not isinstance(value, str):
            raise ValueError("expected a 0x-hex string")
        if len(value) > max_length:
            raise ValueError(f"longer than {max_length} characters")
        result: bytes = fn(value)
        return result

    return check


Hex32 = Annotated[
    bytes,
    BeforeValidator(_checked_str(_hex32, 66)),
    WithJsonSchema({"type": "string", "pattern": "^0x[0-9a-fA-F]{64}$"}),
]
HexBytes = Annotated[
    bytes,
    BeforeValidator(_checked_str(_hex_bytes, 262144)),
    WithJsonSchema({"type": "string", "pattern": "^0x([0-9a-fA-F]{2})*$", "maxLength": 262144}),
]
Address = Annotated[
    str,
    Field(json_schema_extra={"pattern": "^0x[0-9a-fA-F]{40}$"}),
    AfterValidator(_address),
]


def _ref(read: Callable[[str], bytes]) -> Callable[[object], bytes]:
    def check(value: object) -> bytes:
        if isinstance(value, bytes) and len(value) == 32:
            return value
        if not isinstance(value, str):
            raise ValueError("expected a 32-byte hex id or a GS1 code (a string)")
        return read(value)  # an unreadable code is a Gs1Error: 400 with its reason

    return check


ItemRef = Annotated[
    bytes,
    BeforeValidator(_ref(item_key_of)),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": MAX_CODE_LENGTH,
            "description": "an item (unit, case, pallet): its 32-byte id (0x hex) or any GS1 "
            "code form, e.g. (01)09506000134352(21)SN0001, a Digital Link URI, an SSCC",
            "examples": ["(01)09506000134352(21)SN0001"],
        }
    ),
]
LotRef = Annotated[
    bytes,
    BeforeValidator(_ref(lot_key_of)),
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": MAX_CODE_LENGTH,
            "description": "a lot: its 32-byte key (0x hex, `sdk.gs1.lot_key`) or a GS1 code "
            "with a GTIN and a lot, e.g. (01)09506000134352(10)L2026-07",
            "examples": ["(01)09506000134352(10)L2026-07"],
        }
    ),
]
Int16 = Annotated[int, Field(ge=-32768, le=32767)]
Uint40 = Annotated[int, Field(ge=0, le=2**40 - 1)]
ItemIds = Annotated[list[ItemRef], Field(min_length=1, max_length=500)]


def _day(to_ts: Callable[[dt.date], int]) -> Callable[[Any], Any]:
    """A calendar date `YYYY-MM-DD` as the unix time `to_ts` gives it (the start or the end
    of that day in the consortium's time zone, `sdk.dates`); unix seconds pass through."""

    def read(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return to_ts(dt.date.fromisoformat(value))
        except ValueError as exc:
            raise ValueError(
                f"{value[:32]!r} is neither unix seconds nor a date YYYY-MM-DD"
            ) from exc

    return read


def _day_schema(edge: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": 2**40 - 1},
                {"type": "string", "format": "date"},
            ],
            "description": f"unix seconds, or a calendar date YYYY-MM-DD read as the {edge} of "
            "that day in the consortium's time zone (Asia/Shanghai unless configured)",
        }
    )


DayStart = Annotated[Uint40, BeforeValidator(_day(day_start)), _day_schema("start")]
DayEnd = Annotated[Uint40, BeforeValidator(_day(day_end)), _day_schema("last second")]


def hexs(value: bytes) -> str:
    return "0x" + value.hex()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ devices


class ProductIn(Strict):
    model_config = example(
        {
            "gtin": "09506000134352",
            "company_prefix": "950600",
            "device_class": 3,
            "certificate_hash": "0x" + "11" * 32,
            "registration_expiry": "2030-12-31",
            "temp_min": 20,
            "temp_max": 250,
        }
    )

    gtin: str = Field(pattern=r"^\d{14}$")
    company_prefix: str = Field(pattern=r"^\d{6,12}$")
    device_class: int = Field(ge=1, le=3)
    certificate_hash: Hex32
    registration_expiry: DayEnd
    temp_min: Int16
    temp_max: Int16


class LotIn(Strict):
    model_config = example(
        {
            "gtin": "09506000134352",
            "lot": "L2026-07",
            "production_date": "2026-07-01",
            "expiry": "2029-06-30",
            "qc_release": "QC-2026-07-014 released by Li Wei",
        }
    )

    gtin: str = Field(pattern=r"^\d{14}$")
    lot: str = Field(min_length=1, max_length=20)
    production_date: DayStart
    expiry: DayEnd
    qc_release_hash: Hex32 | None = None
    qc_release: str | None = Field(
        default=None, min_length=1, max_length=500, description="the QC release, sealed"
    )

    @model_validator(mode="after")
    def _qc(self) -> LotIn:
        _one_of(self.qc_release, self.qc_release_hash, "qc_release_hash")
        return self


# ------------------------------------------------------------------ items


class CommissionIn(Strict):
    model_config = example({"lot_key": LOT_CODE, "serials": ["SN0001", "SN0002"]})

    lot_key: LotRef
    serials: list[Annotated[str, Field(min_length=1, max_length=20)]] = Field(
        min_length=1, max_length=500
    )


class ContainerIn(Strict):
    model_config = example({"sscc": "106141411234567897", "company_prefix": "0614141"})

    sscc: str = Field(pattern=r"^\d{18}$")
    company_prefix: str = Field(pattern=r"^\d{6,12}$")


class PackIn(Strict):
    model_config = example({"item_ids": [UNIT_CODE, "(01)09506000134352(21)SN0002"]})

    item_ids: ItemIds


class RecordNoteIn(Strict):
    """A record or reason as typed (a procedure or ward number, a note): the API seals it
    for the parties (`domain.record_notes`) and passes only its salted commitment to the
    ledger, never a hash of the text. Give this or a hash you salted yourself, not both."""

    model_config = example({"reference": "OR-2026-1201", "note": "implanted, left hip"})

    reference: str = Field(default="", max_length=200)
    note: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _some_text(self) -> RecordNoteIn:
        if not (self.reference.strip() or self.note.strip()):
            raise ValueError("a record needs a reference or a note")
        return self

    def body(self) -> dict[str, str]:
        typed = {"reference": self.reference.strip(), "note": self.note.strip()}
        return {k: v for k, v in typed.items() if v}


class DeliveryNoteIn(RecordNoteIn):
    """A shipment's delivery note, sealed for the sender, the receiver and the regulator:
    a reference and note, the business transactions (purchase order, despatch advice,
    invoice, ... as CBV types) and the sites it ships from and to (a registered site of
    the sender, of the receiver). Any one of these makes a note."""

    model_config = example(
        {
            "reference": "DN-2026-0042",
            "biz_transactions": [
                {"type": "po", "id": "PO-2026-0815"},
                {"type": "desadv", "id": "DA-2026-0042"},
                {"type": "inv", "id": "INV-88120"},
            ],
            "ship_from_site": "6901234000023",
            "ship_to_site": "6901234000030",
        }
    )

    biz_transactions: BizTransactions = Field(default_factory=list)
    ship_from_site: SiteGln | None = None
    ship_to_site: SiteGln | None = None

    @model_validator(mode="after")
    def _some_text(self) -> DeliveryNoteIn:
        given = self.biz_transactions or self.ship_from_site or self.ship_to_site
        if not (given or self.reference.strip() or self.note.strip()):
            raise ValueError(
                "a delivery note needs a reference, a note, a business transaction or a site"
            )
        return self

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {**super().body()}
        if self.biz_transactions:
            out["biz_transactions"] = [t.model_dump() for t in self.biz_transactions]
        if self.ship_from_site:
            out["ship_from_site"] = self.ship_from_site
        if self.ship_to_site:
            out["ship_to_site"] = self.ship_to_site
        return out


def _one_of(record: object, given: object, name: str) -> None:
    if record is not None and given is not None:
        raise ValueError(f"give `record` or `{name}`, not both")


class ItemsIn(Strict):
    """Dispense, quarantine, release or destroy: the items and the record or reason
    (`record`, sealed; or a salted `record_hash` of your own)."""

    model_config = example(
        {"item_ids": [UNIT_CODE], "record": {"reference": "OR-2026-1201", "note": "implanted"}}
    )

    item_ids: ItemIds
    record_hash: Hex32 | None = None
    record: RecordNoteIn | None = None

    @model_validator(mode="after")
    def _record(self) -> ItemsIn:
        _one_of(self.record, self.record_hash, "record_hash")
        return self


class SignedFields(Strict):
    """Present when the partner signed the EIP-712 order with its own key: the API
    rebuilds the order from the body (signer = the signed-in member), checks the
    signature recovers to the member, and relays it with the platform relayer. Absent:
    the API signs with the member's custodial key."""

    signature: HexBytes | None = None
    nonce: int | None = Field(default=None, ge=0, le=2**256 - 1)
    deadline: int | None = Field(default=None, ge=0, le=2**256 - 1)


MAX_BATCH = 500  # Items.MAX_BATCH: ids plus lot entries in one call
Quantity = Annotated[int, Field(ge=1, le=2**32 - 1)]


class LotQuantityIn(Strict):
    """`quantity` loose units of the lot `lot_key` (`sdk.gs1.lot_key(gtin, lot)`)."""

    model_config = example({"lot_key": LOT_CODE, "quantity": 100})

    lot_key: LotRef
    quantity: Quantity


LotQuantities = Annotated[list[LotQuantityIn], Field(max_length=MAX_BATCH)]


def _distinct_lots(lots: list[LotQuantityIn], field: str) -> None:
    keys = [q.lot_key for q in lots]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{field}: each lot at most once (add the quantities up)")


class ShipIn(SignedFields):
    """Root items (units, cases, pallets) and loose quantities per lot, 1..500 entries
    together."""

    model_config = example(
        {
            "receiver": ADDRESS,
            "item_ids": ["106141411234567897"],
            "lots": [{"lot_key": LOT_CODE, "quantity": 100}],
            "record": {
                "reference": "DN-2026-0042",
                "biz_transactions": [{"type": "po", "id": "PO-2026-0815"}],
            },
        }
    )

    receiver: Address
    item_ids: list[ItemRef] = Field(default_factory=list, max_length=MAX_BATCH)
    lots: LotQuantities = Field(default_factory=list)
    document_hash: Hex32 | None = None
    record: DeliveryNoteIn | None = Field(default=None, description="a delivery note, sealed")

    @model_validator(mode="after")
    def _entries(self) -> ShipIn:
        count = len(self.item_ids) + len(self.lots)
        if not 1 <= count <= MAX_BATCH:
            raise ValueError(f"a shipment holds 1..{MAX_BATCH} items and lots, not {count}")
        _distinct_lots(self.lots, "lots")
        _one_of(self.record, self.document_hash, "document_hash")
        return self


class ReceiveIn(SignedFields):
    """The acceptance record: temperatures in tenths of a degree Celsius."""

    model_config = example(
        {"temp_min": 25, "temp_max": 70, "rejected_ids": [], "excursion_seconds": 0}
    )

    temp_min: Int16
    temp_max: Int16
    rejected_ids: list[ItemRef] = Field(default_factory=list, max_length=500)
    excursion_seconds: int = Field(default=0, ge=0, le=2**32 - 1)
    inspection_hash: Hex32 | None = None
    rejected_lots: LotQuantities = Field(default_factory=list)
    # The full acceptance record (验收记录): sealed for the parties, its commitment becomes
    # the inspection hash (custodial receipts; a member signing itself seals it first with
    # POST /v1/partner/shipments/{id}/acceptance and signs that commitment).
    acceptance: AcceptanceIn | None = None

    @model_validator(mode="after")
    def _lots(self) -> ReceiveIn:
        _distinct_lots(self.rejected_lots, "rejected_lots")
        return self


class CancelIn(SignedFields):
    model_config = example({"record": {"note": "wrong receiver"}})

    reason_hash: Hex32 | None = None
    record: RecordNoteIn | None = Field(default=None, description="the reason, sealed")

    @model_validator(mode="after")
    def _record(self) -> CancelIn:
        _one_of(self.record, self.reason_hash, "reason_hash")
        return self


class RawTransactionIn(Strict):
    model_config = example({"raw_transaction": "0x02f8b1" + "00" * 8})

    raw_transaction: HexBytes


# ------------------------------------------------------------------ responses


class ProblemOut(BaseModel):
    """RFC 9457 problem details, with a stable machine-readable `code`."""

    model_config = example(PROBLEM_EXAMPLE)

    type: str
    title: str
    status: int
    detail: str
    code: str


def _problem(description: str) -> dict[str, Any]:
    schema = ProblemOut.model_json_schema()
    return {"description": description, "content": {"application/problem+json": {"schema": schema}}}


class PendingOut(ProblemOut):
    """202 `transaction_pending`: the ledger node accepted the write's transaction but it
    was not mined in time; it may still succeed (or fail): poll `status_url`."""

    model_config = example(PENDING_EXAMPLE)

    tx_hash: str
    status_url: str


# Error answers every partner route may give, for the OpenAPI document.
PROBLEMS: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "accepted by the ledger node, not yet mined: poll `status_url`",
        "content": {"application/problem+json": {"schema": PendingOut.model_json_schema()}},
    },
    400: _problem("bad input (e.g. signature_required, invalid_transaction)"),
    401: _problem("not signed in, or the credential is invalid or expired"),
    403: _problem("member not active, wrong signer, or a role that may not do this"),
    404: _problem("no such object among yours"),
    409: _problem("refused by a ledger rule, named after the Solidity error"),
    422: _problem("malformed request or ledger input"),
    503: _problem("a secret or key this route needs is not configured"),
}


class PartyOut(BaseModel):
    """A member: its address and its registered name (the name the ledger's member
    registry holds, Chinese and English as the member entered them)."""

    address: str = Field(examples=["0x5B38Da6a701c568545dCfcB03FcB875f56beddC4"])
    name: str = Field(examples=["华东医疗器械配送有限公司 East China Medical Distribution"])


def party(address: str, name: str | None) -> PartyOut:
    return PartyOut(address=address, name=name or "")


class TemperatureOut(BaseModel):
    """A temperature with its unit as a UN/CEFACT Rec. 20 code, as EPCIS sensor data
    gives it (`Cel`: degrees Celsius)."""

    value: float = Field(examples=[2.5])
    unit: Literal["Cel"] = "Cel"


def celsius(tenths: int | None) -> TemperatureOut | None:
    """The ledger keeps temperatures in tenths of a degree Celsius."""
    return None if tenths is None else TemperatureOut(value=tenths / 10)


def at_time(timestamp: int) -> dt.datetime:
    """A unix time as an aware datetime in the consortium's zone (ISO 8601 with offset)."""
    return dt.datetime.fromtimestamp(timestamp, consortium_zone())


def on_day(timestamp: int) -> dt.date:
    """A unix time as its calendar day in the consortium's zone (an expiry, a production
    date)."""
    return day_of(timestamp)


class EventOut(BaseModel):
    name: str
    args: dict[str, Any]


class OperationOut(BaseModel):
    model_config = example(OPERATION_EXAMPLE)

    tx_hash: str
    block_number: int
    signed_by: str = Field(description="custodial, member (relayed) or member (raw)")
    events: list[EventOut]
    item_ids: list[str] | None = None
    lot_key: str | None = None
    container_id: str | None = None
    shipment_id: int | None = None
    recall_id: int | None = None
    report_id: int | None = None
    record_id: str | None = Field(default=None, description="the sealed record it carries")
    indexed: bool = Field(
        default=True,
        description="false: the read model had not reached block_number when this was "
        "answered, so lists and traces may not show the write yet",
    )


class TransactionStatusOut(BaseModel):
    """A transaction sent through the API: `pending`, `mined` (block and events), `failed`
    (mined but reverted: `error` is the problem it would have answered) or `dropped`."""

    model_config = example(
        {
            "tx_hash": TX_HASH,
            "status": "mined",
            "block_number": 412,
            "events": OPERATION_EXAMPLE["events"],
            "error": None,
        }
    )

    tx_hash: str
    status: str
    block_number: int | None = None
    events: list[EventOut] = Field(default_factory=list)
    error: dict[str, Any] | None = None


class NonceOut(BaseModel):
    model_config = example(
        {
            "address": ADDRESS,
            "nonce": 7,
            "domain": {
                "name": "MedLedger Items",
                "version": "1",
                "chainId": 1337,
                "verifyingContract": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            },
            "has_custodial_key": True,
        }
    )

    address: str
    nonce: int
    domain: dict[str, Any]
    has_custodial_key: bool


class HoldOut(BaseModel):
    """A hold on stock: `recalled` (an open recall of its lot, with its id and level) or
    `quarantined`."""

    kind: str = Field(examples=["recalled", "quarantined"])
    recall_id: int | None = None
    level: int | None = None


class InventoryLineOut(BaseModel):
    """Your serialised units of one lot in one status."""

    model_config = ConfigDict(json_schema_extra={"examples": [INVENTORY_EXAMPLE]})

    gtin: str
    lot_number: str
    expiry: dt.date = Field(description="the lot's expiry date (YYYY-MM-DD, consortium zone)")
    status: str = Field(examples=["active", "in_transit", "quarantined"])
    units: int
    recalled: bool = Field(description="an open recall covers the lot")
    recall_id: int | None = Field(description="the open recall's id, when recalled")
    holds: list[HoldOut] = Field(default_factory=list)


class HistoryStepOut(BaseModel):
    """One custody step of an item, with its chain reference."""

    model_config = ConfigDict(json_schema_extra={"examples": [HISTORY_EXAMPLE]})

    kind: str
    block_number: int
    at: dt.datetime = Field(description="the block's time, ISO 8601 in the consortium zone")
    tx_hash: str
    log_index: int
    holder: PartyOut
    status: str
    parent: str | None
    via: str | None
    shipment_id: int | None


class ShipmentOut(BaseModel):
    """A shipment you sent or that is addressed to you. Temperatures are the receiver's
    acceptance record (null until received)."""

    model_config = ConfigDict(json_schema_extra={"examples": [SHIPMENT_EXAMPLE]})

    shipment_id: int
    sender: PartyOut
    receiver: PartyOut
    direction: str | None = Field(
        default=None, description="inbound or outbound for you (null for the regulator)"
    )
    status: str = Field(examples=["in_transit", "received", "rejected", "cancelled"])
    item_count: int
    document_hash: str
    sent_block: int
    sent_at: dt.datetime | None = Field(description="ISO 8601, the consortium's zone")
    settled_block: int | None
    settled_at: dt.datetime | None
    accepted_count: int | None
    rejected_count: int | None
    temperature_min: TemperatureOut | None
    temperature_max: TemperatureOut | None
    excursion_seconds: int | None
    quarantined: bool | None
