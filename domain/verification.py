"""The verdict on one scanned code: what the ledger (as projected by the indexer) says
about the unit, what the scan history adds, and the chain references it rests on.

`verify(sql, udi, ...)` reads the indexer's tables through the typed reads of
`indexer.queries.verification` (over any `Reader`: `indexer.db.Sql` or the API's long-lived
`DirectSql`) and returns a `VerifyResult`; the caller logs the scan (`domain.verifier`).
The verdict is the most serious one any reason implies:

    unknown > suspect > recalled > destroyed > dispensed > expired > genuine

- unknown   the serial (or SSCC) was never commissioned on the ledger: a counterfeit signal;
- suspect   the label contradicts the ledger (lot, expiry, serial under another lot), or a
            scan-anomaly rule of `domain.scan_rules` holds (two places within
            `window_seconds`; scanned more than `grace_seconds` after it was dispensed or
            destroyed), the same rules the regulator's alerts apply;
- recalled, destroyed, dispensed, expired: the ledger's own state.

Whose scans are evidence for `two_places`: only members' (`domain.scan_rules`). An anonymous
scan is still logged, for the regulator's statistics.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import replace

from pydantic import BaseModel, ConfigDict, Field, model_validator

from medledger.domain.scan_rules import (
    USES,
    VerifyPolicy,
    places_distant,
    scanned_after_use,
    two_places,
)
from medledger.domain.verdicts import PRECEDENCE, ReasonCode, Scope, Severity, Verdict
from medledger.indexer.queries.lot_quantities import (
    base_product,
    lot_index_of,
    lot_tracked,
    units_in_supply_chain,
)
from medledger.indexer.queries.recalls import closed_recall_outstanding
from medledger.indexer.queries.scans import Scan, member_scans
from medledger.indexer.queries.verification import (
    LotRow,
    ProductRow,
    Reader,
    RecallRow,
    StepRow,
    lot_exists,
    lot_facts,
    newest_block_time,
    product_facts,
    unit_facts,
    unit_steps,
)
from medledger.sdk.dates import day_of
from medledger.sdk.gs1 import Udi
from medledger.sdk.gs1 import lot_key as make_lot_key
from medledger.sdk.model import ItemStatus

__all__ = [
    "ChainRef",
    "Location",
    "LotFacts",
    "ProductFacts",
    "Reader",
    "Reason",
    "ReasonCode",
    "ScannedCode",
    "Scope",
    "Severity",
    "Verdict",
    "VerifyPolicy",
    "VerifyResult",
    "ledger_now",
    "places_distant",
    "verify",
    "verify_lot",
]


class Location(BaseModel):
    """Where a scan happened, coarsely: a country (and region), or lat/lon rounded to 0.1°."""

    model_config = ConfigDict(extra="forbid")

    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$", examples=["CN"])
    region: str | None = Field(default=None, pattern=r"^[A-Z0-9]{1,3}$", examples=["31"])
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    lon: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)

    @model_validator(mode="after")
    def _complete(self) -> Location:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together")
        if self.region is not None and self.country is None:
            raise ValueError("a region needs its country")
        return self

    def coarse(self) -> str:
        """The stored form: `CN`, `CN-31`, `geo:31.2,121.5` or both, space-separated."""
        parts: list[str] = []
        if self.country is not None:
            parts.append(self.country if self.region is None else f"{self.country}-{self.region}")
        if self.lat is not None and self.lon is not None:
            parts.append(f"geo:{round(self.lat, 1):.1f},{round(self.lon, 1):.1f}")
        return " ".join(parts)


class Reason(BaseModel):
    code: ReasonCode = Field(examples=["recalled"])
    text: str
    severity: Severity = Field(description="info, warning or alert", examples=["alert"])


class ChainRef(BaseModel):
    """One on-chain fact the verdict rests on."""

    event: str = Field(examples=["commissioned"])
    block: int
    tx_hash: str | None = None
    log_index: int | None = None
    timestamp: int | None = None


class ScannedCode(BaseModel):
    """What the scanned code says, normalised."""

    gtin: str | None
    serial: str | None
    lot: str | None
    expiry: datetime.date | None
    sscc: str | None
    item_id: str = Field(
        description="the ledger key the code names: the unit's or container's id, or for a "
        "lot code (scope `lot`) the lot key keccak256('/01/<gtin>/10/<lot>')"
    )


class ProductFacts(BaseModel):
    gtin: str
    manufacturer: str
    manufacturer_address: str
    device_class: int
    registration_certificate_hash: str
    registration_expiry: datetime.date
    registration_valid: bool
    # Public master data (China's UDI database fields), when the manufacturer anchored it
    # (`domain.master_data`; filled in by `domain.verifier.judge`).
    name_zh: str | None = None
    name_en: str | None = None
    model: str | None = None
    registration_number: str | None = None
    classification_code: str | None = None
    manufacturer_zh: str | None = None
    manufacturer_en: str | None = None


class LotFacts(BaseModel):
    lot: str
    production_date: datetime.date
    expiry: datetime.date
    recalled: bool
    recall_level: int | None = None


class VerifyResult(BaseModel):
    verdict: Verdict
    reasons: list[Reason]
    code: ScannedCode
    product: ProductFacts | None = None
    lot: LotFacts | None = None
    status: str | None = Field(
        default=None, description="the unit's ledger status", examples=["active"]
    )
    chain: list[ChainRef]
    checked_at: int = Field(description="unix time of the check")
    checked_at_iso: str
    scope: Scope = Field(
        default=Scope.UNIT,
        description="what the code names: `unit`, `container`, or `lot` (a GTIN and lot "
        "without a serial: genuine means the lot is registered, never that this box is "
        "unique)",
    )
    quantities_in_supply_chain: int | None = Field(
        default=None,
        description="for a lot code, how many of the lot's units are still in the supply "
        "chain (neither dispensed nor destroyed), from the read model; null for a serialised "
        "lot (its units are counted one by one) or an unknown one",
    )


def _date(ts: int) -> datetime.date:
    """The calendar day of `ts` in the consortium's time zone (`sdk.dates`)."""
    return day_of(ts)


def _iso(ts: int) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat().replace("+00:00", "Z")


def ledger_now(sql: Reader) -> int:
    """Wall-clock time, or the newest indexed block's time if the chain runs ahead of it."""
    now = int(datetime.datetime.now(datetime.UTC).timestamp())
    return max(now, newest_block_time(sql) or 0)


def _product(row: ProductRow, now: int) -> ProductFacts:
    return ProductFacts(
        gtin=row.gtin,
        manufacturer=row.manufacturer,
        manufacturer_address=row.manufacturer_address,
        device_class=row.device_class,
        registration_certificate_hash="0x" + row.certificate_hash.hex(),
        registration_expiry=_date(row.registration_expiry),
        registration_valid=row.registration_expiry > now,
    )


def _ref(event: str, step: StepRow) -> ChainRef:
    return ChainRef(
        event=event,
        block=step.block_number,
        tx_hash="0x" + step.tx_hash.hex(),
        log_index=step.log_index,
        timestamp=step.timestamp,
    )


class _Findings:
    def __init__(self) -> None:
        self.reasons: list[Reason] = []
        self.verdicts: set[Verdict] = set()

    def add(self, code: ReasonCode, text: str, verdict: Verdict | None, severity: Severity) -> None:
        self.reasons.append(Reason(code=code, text=text, severity=severity))
        if verdict is not None:
            self.verdicts.add(verdict)

    def verdict(self) -> Verdict:
        return next((v for v in PRECEDENCE if v in self.verdicts), Verdict.GENUINE)


def verify(
    sql: Reader,
    udi: Udi,
    *,
    item_key: bytes,
    now: int,
    policy: VerifyPolicy,
    location: str = "",
    pending_scans: Sequence[Scan] = (),
) -> VerifyResult:
    """Judge one scanned code (`item_key` is `udi.item_id`) scanned at `location` against
    the ledger. The scans logged but not yet written (`pending_scans`) count for the
    two-places check like written ones."""
    key = item_key
    found = _Findings()
    chain: list[ChainRef] = []
    product: ProductFacts | None = None
    lot: LotFacts | None = None
    status: str | None = None

    facts = unit_facts(sql, key)
    if facts is None:
        product = _unknown(sql, udi, found, now)
    else:
        status = facts.status.name.lower()
        history = unit_steps(sql, facts.item_id)
        if history:
            first = history[0]
            chain.append(_ref(first.kind.name.lower(), first))
        if facts.product is not None and facts.lot is not None:
            product = _product(facts.product, now)
            row = facts.lot
            lot = _lot(row)
            found.add(
                ReasonCode.COMMISSIONED,
                f"commissioned by {product.manufacturer} in lot {lot.lot}",
                None,
                Severity.INFO,
            )
            _check_label(sql, udi, lot, row.expiry, found)
            _check_lot(row.active_recall, facts.recall, row.expiry, lot, product, found, chain, now)
            if not row.active_recall:
                _check_closed_recall(sql, facts.item_id, lot, found)
        else:
            found.add(
                ReasonCode.CONTAINER,
                "a logistic unit registered on the ledger",
                None,
                Severity.INFO,
            )
        _check_status(facts.status, history, found, chain, now, policy)
        _check_scans(sql, key, location, pending_scans, found, now, policy)
    return VerifyResult(
        verdict=found.verdict(),
        reasons=found.reasons,
        code=ScannedCode(
            gtin=udi.gtin,
            serial=udi.serial,
            lot=udi.lot,
            expiry=udi.expiry,
            sscc=udi.sscc,
            item_id="0x" + key.hex(),
        ),
        product=product,
        lot=lot,
        status=status,
        chain=chain,
        checked_at=now,
        checked_at_iso=_iso(now),
        scope=Scope.CONTAINER if udi.sscc is not None else Scope.UNIT,
    )


def verify_lot(sql: Reader, udi: Udi, *, lot_key: bytes, now: int) -> VerifyResult:
    """Judge a lot code (GTIN and lot, no serial; `lot_key` is `udi.lot_key`): whether the
    lot is registered for that GTIN, whether the printed expiry is the ledger's (a mismatch
    is suspect), its recall and expiry. Genuine says the lot exists, not that this box is
    the only one carrying the code (`lot_code_not_unique`)."""
    found = _Findings()
    chain: list[ChainRef] = []
    lot: LotFacts | None = None
    quantity: int | None = None
    facts = lot_facts(sql, lot_key)
    base = None if facts is not None or udi.gtin is None else base_product(sql, udi.gtin)
    if base is not None and udi.lot is not None:  # a box or case GTIN: its unit product's lot
        lot_key = make_lot_key(base, udi.lot)
        facts = lot_facts(sql, lot_key)
    if facts is None:  # an unknown lot of the unit product, for a package GTIN
        product = _unknown(sql, udi if base is None else replace(udi, gtin=base), found, now)
    else:
        index = lot_index_of(sql, lot_key)
        if index is not None and lot_tracked(sql, index):
            quantity = units_in_supply_chain(sql, index)
        product = _product(facts.product, now)
        lot = _lot(facts.lot)
        chain.append(
            ChainRef(
                event="lot_registered", block=facts.registered_block, timestamp=facts.registered_at
            )
        )
        found.add(
            ReasonCode.LOT_REGISTERED,
            f"lot {lot.lot} of GTIN {product.gtin} was registered by {product.manufacturer}",
            None,
            Severity.INFO,
        )
        _check_label(sql, udi, lot, facts.lot.expiry, found)
        _check_lot(
            facts.lot.active_recall, facts.recall, facts.lot.expiry, lot, product, found, chain, now
        )
    found.add(
        ReasonCode.LOT_CODE_NOT_UNIQUE,
        "a lot code names every unit of the lot: it cannot prove that this box is unique",
        None,
        Severity.INFO,
    )
    return VerifyResult(
        verdict=found.verdict(),
        reasons=found.reasons,
        code=ScannedCode(
            gtin=udi.gtin,
            serial=None,
            lot=udi.lot,
            expiry=udi.expiry,
            sscc=None,
            item_id="0x" + lot_key.hex(),
        ),
        product=product,
        lot=lot,
        chain=chain,
        checked_at=now,
        checked_at_iso=_iso(now),
        scope=Scope.LOT,
        quantities_in_supply_chain=quantity,
    )


def _lot(row: LotRow) -> LotFacts:
    return LotFacts(
        lot=row.lot_number,
        production_date=_date(row.production_date),
        expiry=_date(row.expiry),
        recalled=row.active_recall != 0,
    )


def _unknown(sql: Reader, udi: Udi, found: _Findings, now: int) -> ProductFacts | None:
    if udi.sscc is not None:
        found.add(
            ReasonCode.UNKNOWN_CONTAINER,
            f"SSCC {udi.sscc} was never registered on the ledger",
            Verdict.UNKNOWN,
            Severity.ALERT,
        )
        return None
    row = None if udi.gtin is None else product_facts(sql, udi.gtin)
    if row is None:
        found.add(
            ReasonCode.UNKNOWN_PRODUCT,
            f"GTIN {udi.gtin} is not a product registered on the ledger",
            Verdict.UNKNOWN,
            Severity.ALERT,
        )
        return None
    product = _product(row, now)
    if udi.serial is None:  # a lot code
        code = ReasonCode.UNKNOWN_LOT
        what = f"lot {udi.lot} of GTIN {udi.gtin} was never registered"
    else:
        code = ReasonCode.UNKNOWN_SERIAL
        what = f"serial {udi.serial} of GTIN {udi.gtin} was never commissioned"
    found.add(
        code,
        f"{what} by {product.manufacturer}; the label may be counterfeit",
        Verdict.UNKNOWN,
        Severity.ALERT,
    )
    return product


def _same_day(label: datetime.date, ts: int) -> bool:
    """Whether a printed date names the day of `ts` in some time zone (UTC-12..UTC+14): the
    ledger's expiry is read in the consortium's zone, but a lot registered through the API
    may hold a UTC or local midnight, and its printed date is not a counterfeit sign."""
    return _date_in(ts - 12 * 3600) <= label <= _date_in(ts + 14 * 3600)


def _date_in(ts: int) -> datetime.date:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).date()


def _check_label(sql: Reader, udi: Udi, lot: LotFacts, expiry: int, found: _Findings) -> None:
    """The lot and expiry printed on the label must be the ledger's."""
    if udi.lot is not None and udi.lot != lot.lot:
        other = udi.lot_key
        if other is not None and lot_exists(sql, other):
            found.add(
                ReasonCode.SERIAL_UNDER_OTHER_LOT,
                f"serial {udi.serial} was commissioned in lot {lot.lot}, "
                f"but the label says lot {udi.lot}",
                Verdict.SUSPECT,
                Severity.ALERT,
            )
        else:
            found.add(
                ReasonCode.LOT_MISMATCH,
                f"the label's lot {udi.lot} is not a lot of GTIN {udi.gtin} on the ledger "
                f"(the serial belongs to lot {lot.lot})",
                Verdict.SUSPECT,
                Severity.ALERT,
            )
    if udi.expiry is not None and not _same_day(udi.expiry, expiry):
        found.add(
            ReasonCode.EXPIRY_MISMATCH,
            f"the label's expiry {udi.expiry.isoformat()} differs from the ledger's "
            f"{lot.expiry.isoformat()}",
            Verdict.SUSPECT,
            Severity.ALERT,
        )


def _check_closed_recall(sql: Reader, item_id: int, lot: LotFacts, found: _Findings) -> None:
    """A unit still in the field when its lot's recall was closed, and never returned,
    is not genuine stock again: it stays recalled."""
    left = closed_recall_outstanding(sql, item_id)
    if left is not None:
        lot.recall_level = left.level
        found.add(
            ReasonCode.RECALL_CLOSED_OUTSTANDING,
            f"lot {lot.lot}'s recall #{left.recall_id} (level {left.level}) was closed while "
            "this unit was in the field, and it was never returned; do not use",
            Verdict.RECALLED,
            Severity.ALERT,
        )


def _check_lot(
    recall_id: int,
    recall: RecallRow | None,
    expiry: int,
    lot: LotFacts,
    product: ProductFacts,
    found: _Findings,
    chain: list[ChainRef],
    now: int,
) -> None:
    if recall_id:
        level = None if recall is None else recall.level
        lot.recall_level = level
        found.add(
            ReasonCode.RECALLED,
            f"lot {lot.lot} is under recall #{recall_id} (level {level}); do not use",
            Verdict.RECALLED,
            Severity.ALERT,
        )
        if recall is not None and recall.opened_block is not None:
            tx_hash = recall.opened_tx_hash
            chain.append(
                ChainRef(
                    event="recall_opened",
                    block=recall.opened_block,
                    tx_hash=None if tx_hash is None else "0x" + tx_hash.hex(),
                    log_index=recall.opened_log_index,
                    timestamp=recall.opened_at,
                )
            )
    if expiry <= now:
        found.add(
            ReasonCode.EXPIRED,
            f"lot {lot.lot} expired on {lot.expiry.isoformat()}",
            Verdict.EXPIRED,
            Severity.ALERT,
        )
    if not product.registration_valid:
        found.add(
            ReasonCode.REGISTRATION_EXPIRED,
            f"the registration certificate expired on {product.registration_expiry.isoformat()}",
            None,
            Severity.WARNING,
        )


def _check_status(
    status: ItemStatus,
    history: list[StepRow],
    found: _Findings,
    chain: list[ChainRef],
    now: int,
    policy: VerifyPolicy,
) -> None:
    last = history[-1] if history else None
    if last is not None and len(history) > 1:
        chain.append(_ref(last.kind.name.lower(), last))
    use = USES.get(status)
    if use is not None:
        word = use.verdict.value
        when = next((s.timestamp for s in reversed(history) if s.kind == use.step), None)
        at = f" on {_iso(when)}" if when is not None else ""
        found.add(
            use.reason,
            f"the unit was {word}{at}; it must not be in circulation",
            use.verdict,
            Severity.ALERT,
        )
        after = scanned_after_use(status, when, now=now, policy=policy)
        if after is not None and when is not None:
            hours = (now - when) // 3600
            found.add(
                after,
                f"scanned {hours} h after it was {word}: the unit or its label may have been "
                "reused",
                Verdict.SUSPECT,
                Severity.ALERT,
            )
    elif status == ItemStatus.QUARANTINED:
        found.add(
            ReasonCode.QUARANTINED,
            "quarantined by its holder (e.g. a cold-chain excursion); do not use until released",
            None,
            Severity.WARNING,
        )
    elif status == ItemStatus.IN_TRANSIT:
        found.add(ReasonCode.IN_TRANSIT, "in transit between two partners", None, Severity.INFO)


def _check_scans(
    sql: Reader,
    key: bytes,
    location: str,
    pending: Sequence[Scan],
    found: _Findings,
    now: int,
    policy: VerifyPolicy,
) -> None:
    """This scan and an earlier member scan of the unit in distant places within the
    window (`domain.scan_rules.two_places`)."""
    if not location:
        return
    written = member_scans(sql, key, since=now - policy.window_seconds)
    other = two_places(location, [*reversed(pending), *written], now=now, policy=policy)
    if other is not None:
        minutes = max(0, (now - other.scanned_at) // 60)
        found.add(
            ReasonCode.TWO_PLACES,
            f"a consortium member scanned it at {other.location} {minutes} min before this "
            f"scan at {location}: one unit cannot be in both places (only scans by "
            "authenticated members count as evidence; an anonymous scan never changes another "
            "scanner's verdict)",
            Verdict.SUSPECT,
            Severity.ALERT,
        )
