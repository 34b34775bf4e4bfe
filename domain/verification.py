"""The verdict on one scanned code: what the ledger (as projected by the indexer) says
about the unit, what the scan history adds, and the chain references it rests on.

`verify(sql, udi, ...)` reads the indexer's tables (through any `Reader`: `indexer.db.Sql` or
the API's long-lived `api.verify_db.DirectSql`) and returns a `VerifyResult`; the caller logs
the scan. The verdict is the most serious one any reason implies:

    unknown > suspect > recalled > destroyed > dispensed > expired > genuine

- unknown   the serial (or SSCC) was never commissioned on the ledger: a counterfeit signal;
- suspect   the label contradicts the ledger (lot, expiry, serial under another lot), the
            unit is scanned in two distant places within `window_seconds`, or it is scanned
            more than `grace_seconds` after it was dispensed or destroyed;
- recalled, destroyed, dispensed, expired: the ledger's own state.

Whose scans are evidence (`two_places`): a scan's place is what its sender says. A scan by
an authenticated, active member (a partner API key: a hospital's or a distributor's
scanner) is a member's statement it answers for, so it counts against every later scan of
the unit. An anonymous scan (a phone, no key) only ever judges itself: it is compared with
the member scans before it, but is never compared with by a later scan, so nobody can turn
a unit suspect for the next scanner by sending `country=US` for a serial they guessed. The
anonymous scan is still logged, for the regulator's statistics.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from indexer.items import EventKind
from sdk.gs1 import Udi
from sdk.model import ItemStatus

__all__ = [
    "ChainRef",
    "Location",
    "LotFacts",
    "ProductFacts",
    "Reader",
    "Reason",
    "ReasonCode",
    "ScannedCode",
    "Verdict",
    "VerifyPolicy",
    "VerifyResult",
    "ledger_now",
    "places_distant",
    "verify",
]


class ReasonCode(StrEnum):
    """Why a verdict is what it is: the `code` of each `Reason` (its text is English; the
    portal's verification page words each code in zh-CN and English)."""

    COMMISSIONED = "commissioned"
    CONTAINER = "container"
    UNKNOWN_CONTAINER = "unknown_container"
    UNKNOWN_PRODUCT = "unknown_product"
    UNKNOWN_SERIAL = "unknown_serial"
    SERIAL_UNDER_OTHER_LOT = "serial_under_other_lot"
    LOT_MISMATCH = "lot_mismatch"
    EXPIRY_MISMATCH = "expiry_mismatch"
    RECALLED = "recalled"
    EXPIRED = "expired"
    REGISTRATION_EXPIRED = "registration_expired"
    DISPENSED = "dispensed"
    DESTROYED = "destroyed"
    SCANNED_AFTER_DISPENSED = "scanned_after_dispensed"
    SCANNED_AFTER_DESTROYED = "scanned_after_destroyed"
    QUARANTINED = "quarantined"
    IN_TRANSIT = "in_transit"
    TWO_PLACES = "two_places"


class Verdict(StrEnum):
    GENUINE = "genuine"
    UNKNOWN = "unknown"
    SUSPECT = "suspect"
    RECALLED = "recalled"
    EXPIRED = "expired"
    DISPENSED = "dispensed"
    DESTROYED = "destroyed"


# Most serious first.
_PRECEDENCE: Final = (
    Verdict.UNKNOWN,
    Verdict.SUSPECT,
    Verdict.RECALLED,
    Verdict.DESTROYED,
    Verdict.DISPENSED,
    Verdict.EXPIRED,
)


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


@dataclass(frozen=True, slots=True)
class _Place:
    country: str | None
    region: str | None
    geo: tuple[float, float] | None

    @classmethod
    def parse(cls, text: str) -> _Place:
        country = region = None
        geo = None
        for part in text.split():
            if part.startswith("geo:"):
                lat, _, lon = part[4:].partition(",")
                try:
                    geo = (float(lat), float(lon))
                except ValueError:
                    continue
            else:
                country, _, reg = part.partition("-")
                region = reg or None
        return cls(country, region, geo)

    def distance_km(self, other: _Place) -> float | None:
        if self.geo is None or other.geo is None:
            return None
        (la1, lo1), (la2, lo2) = (map(math.radians, self.geo), map(math.radians, other.geo))
        h = (
            math.sin((la2 - la1) / 2) ** 2
            + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
        )
        return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))

    def distant_from(self, other: _Place, *, distant_km: float) -> bool:
        km = self.distance_km(other)
        if km is not None:
            return km >= distant_km
        if self.country is None or other.country is None:
            return False
        if self.country != other.country:
            return True
        return self.region is not None and other.region is not None and self.region != other.region


def places_distant(a: str, b: str, *, distant_km: float) -> bool:
    """Whether two stored scan locations are far apart: points at least `distant_km` apart,
    two countries, or two regions of one country. Incomparable places (a country and a
    point, or an empty location) are not. For filtering `indexer.queries.scan_anomalies`,
    whose `two_places` only compares the location strings."""
    if not a or not b:
        return False
    return _Place.parse(a).distant_from(_Place.parse(b), distant_km=distant_km)


class Reason(BaseModel):
    code: str = Field(examples=["recalled"])
    text: str
    severity: str = Field(description="info, warning or alert", examples=["alert"])


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
    item_id: str


class ProductFacts(BaseModel):
    gtin: str
    manufacturer: str
    manufacturer_address: str
    device_class: int
    registration_certificate_hash: str
    registration_expiry: datetime.date
    registration_valid: bool


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


class Reader(Protocol):
    """`?`-placeholder SQL reads (`indexer.db.Sql`, `api.verify_db.DirectSql`)."""

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


@dataclass(frozen=True, slots=True)
class VerifyPolicy:
    window_seconds: int
    distant_km: float
    grace_seconds: int


# One row: the unit, its lot, product and manufacturer, and the lot's open recall with the
# chain reference of its opening (indexed since migration 0003).
_FACTS: Final = (
    "SELECT i.id, i.is_container, i.status, l.lot_number, l.production_date, l.expiry, "
    "l.active_recall, p.gtin, p.device_class, p.certificate_hash, p.registration_expiry, "
    "o.name, o.address, r.level, r.opened_block, r.opened_tx_hash, r.opened_log_index, "
    "rb.timestamp FROM items i "
    "LEFT JOIN lots l ON l.lot_index = i.lot_index "
    "LEFT JOIN products p ON p.gtin = l.gtin "
    "LEFT JOIN organisations o ON o.id = p.manufacturer_id "
    "LEFT JOIN recalls r ON r.id = l.active_recall "
    "LEFT JOIN blocks rb ON rb.number = r.opened_block "
    "WHERE i.item_key = ?"
)
# The unit's steps, oldest first: only what the verdict cites (kind, block, time, tx, log).
_STEPS: Final = (
    "SELECT e.kind, e.block_number, b.timestamp, l.tx_hash, e.log_index FROM item_events e "
    "JOIN blocks b ON b.number = e.block_number "
    "JOIN processed_logs l ON l.block_number = e.block_number AND l.log_index = e.log_index "
    "WHERE e.item_id = ? ORDER BY e.block_number, e.log_index"
)
_PRODUCT: Final = (
    "SELECT p.gtin, p.device_class, p.certificate_hash, p.registration_expiry, o.name, "
    "o.address FROM products p JOIN organisations o ON o.id = p.manufacturer_id WHERE p.gtin = ?"
)


def _date(ts: int) -> datetime.date:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).date()


def _iso(ts: int) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat().replace("+00:00", "Z")


def ledger_now(sql: Reader) -> int:
    """Wall-clock time, or the newest indexed block's time if the chain runs ahead of it."""
    newest = sql.one("SELECT timestamp FROM blocks WHERE number = (SELECT MAX(number) FROM blocks)")
    now = int(datetime.datetime.now(datetime.UTC).timestamp())
    return max(now, int(newest or 0))


def _product(row: tuple[Any, ...], now: int) -> ProductFacts:
    gtin, device_class, cert, reg_expiry, name, address = row
    return ProductFacts(
        gtin=str(gtin),
        manufacturer=str(name),
        manufacturer_address=str(address),
        device_class=int(device_class),
        registration_certificate_hash="0x" + bytes(cert).hex(),
        registration_expiry=_date(int(reg_expiry)),
        registration_valid=int(reg_expiry) > now,
    )


@dataclass(frozen=True, slots=True)
class _Step:
    kind: EventKind
    block_number: int
    timestamp: int
    tx_hash: bytes
    log_index: int


def _steps(sql: Reader, item_row: int) -> list[_Step]:
    return [
        _Step(EventKind(int(k)), int(b), int(t), bytes(tx), int(i))
        for k, b, t, tx, i in sql.rows(_STEPS, (item_row,))
    ]


def _ref(event: str, step: _Step) -> ChainRef:
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

    def add(self, code: ReasonCode, text: str, verdict: Verdict | None, severity: str) -> None:
        self.reasons.append(Reason(code=code.value, text=text, severity=severity))
        if verdict is not None:
            self.verdicts.add(verdict)

    def verdict(self) -> Verdict:
        return next((v for v in _PRECEDENCE if v in self.verdicts), Verdict.GENUINE)


def verify(
    sql: Reader,
    udi: Udi,
    *,
    item_key: bytes,
    now: int,
    policy: VerifyPolicy,
    location: str = "",
    pending_scans: Sequence[tuple[int, str]] = (),
) -> VerifyResult:
    """Judge one scanned code (`item_key` is `udi.item_id`) scanned at `location` against
    the ledger. The member scans logged but not yet written (`pending_scans`: time, place;
    the caller leaves anonymous ones out) count for the two-places check like written
    ones."""
    key = item_key
    found = _Findings()
    chain: list[ChainRef] = []
    product: ProductFacts | None = None
    lot: LotFacts | None = None
    status: str | None = None

    facts = sql.rows(_FACTS, (key,))
    if not facts:
        product = _unknown(sql, udi, found, now)
    else:
        row = facts[0]
        item_status = ItemStatus(int(row[2]))
        status = item_status.name.lower()
        history = _steps(sql, int(row[0]))
        if history:
            first = history[0]
            chain.append(_ref(first.kind.name.lower(), first))
        if row[7] is not None:
            product = _product(row[7:13], now)
            lot = LotFacts(
                lot=str(row[3]),
                production_date=_date(int(row[4])),
                expiry=_date(int(row[5])),
                recalled=int(row[6]) != 0,
            )
            found.add(
                ReasonCode.COMMISSIONED,
                f"commissioned by {product.manufacturer} in lot {lot.lot}",
                None,
                "info",
            )
            _check_label(sql, udi, lot, int(row[5]), found)
            _check_lot(int(row[6]), row[13:18], int(row[5]), lot, product, found, chain, now)
        else:
            found.add(
                ReasonCode.CONTAINER, "a logistic unit registered on the ledger", None, "info"
            )
        _check_status(item_status, history, found, chain, now, policy)
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
    )


def _unknown(sql: Reader, udi: Udi, found: _Findings, now: int) -> ProductFacts | None:
    if udi.sscc is not None:
        found.add(
            ReasonCode.UNKNOWN_CONTAINER,
            f"SSCC {udi.sscc} was never registered on the ledger",
            Verdict.UNKNOWN,
            "alert",
        )
        return None
    rows = sql.rows(_PRODUCT, (udi.gtin,))
    if not rows:
        found.add(
            ReasonCode.UNKNOWN_PRODUCT,
            f"GTIN {udi.gtin} is not a product registered on the ledger",
            Verdict.UNKNOWN,
            "alert",
        )
        return None
    product = _product(rows[0], now)
    found.add(
        ReasonCode.UNKNOWN_SERIAL,
        f"serial {udi.serial} of GTIN {udi.gtin} was never commissioned by "
        f"{product.manufacturer}; the label may be counterfeit",
        Verdict.UNKNOWN,
        "alert",
    )
    return product


def _same_day(label: datetime.date, ts: int) -> bool:
    """Whether a printed date names the day of `ts` in some time zone (UTC-12..UTC+14): a
    lot registered as expiring at midnight in Shanghai is the previous day in UTC."""
    return _date(ts - 12 * 3600) <= label <= _date(ts + 14 * 3600)


def _check_label(sql: Reader, udi: Udi, lot: LotFacts, expiry: int, found: _Findings) -> None:
    """The lot and expiry printed on the label must be the ledger's."""
    if udi.lot is not None and udi.lot != lot.lot:
        other = udi.lot_key
        if other is not None and sql.one("SELECT 1 FROM lots WHERE lot_key = ?", (other,)):
            found.add(
                ReasonCode.SERIAL_UNDER_OTHER_LOT,
                f"serial {udi.serial} was commissioned in lot {lot.lot}, "
                f"but the label says lot {udi.lot}",
                Verdict.SUSPECT,
                "alert",
            )
        else:
            found.add(
                ReasonCode.LOT_MISMATCH,
                f"the label's lot {udi.lot} is not a lot of GTIN {udi.gtin} on the ledger "
                f"(the serial belongs to lot {lot.lot})",
                Verdict.SUSPECT,
                "alert",
            )
    if udi.expiry is not None and not _same_day(udi.expiry, expiry):
        found.add(
            ReasonCode.EXPIRY_MISMATCH,
            f"the label's expiry {udi.expiry.isoformat()} differs from the ledger's "
            f"{lot.expiry.isoformat()}",
            Verdict.SUSPECT,
            "alert",
        )


def _check_lot(
    recall_id: int,
    recall: tuple[Any, ...],
    expiry: int,
    lot: LotFacts,
    product: ProductFacts,
    found: _Findings,
    chain: list[ChainRef],
    now: int,
) -> None:
    if recall_id:
        level_, block, tx_hash, log_index, timestamp = recall
        level = None if level_ is None else int(level_)
        lot.recall_level = level
        found.add(
            ReasonCode.RECALLED,
            f"lot {lot.lot} is under recall #{recall_id} (level {level}); do not use",
            Verdict.RECALLED,
            "alert",
        )
        if block is not None:
            chain.append(
                ChainRef(
                    event="recall_opened",
                    block=int(block),
                    tx_hash=None if tx_hash is None else "0x" + bytes(tx_hash).hex(),
                    log_index=None if log_index is None else int(log_index),
                    timestamp=None if timestamp is None else int(timestamp),
                )
            )
    if expiry <= now:
        found.add(
            ReasonCode.EXPIRED,
            f"lot {lot.lot} expired on {lot.expiry.isoformat()}",
            Verdict.EXPIRED,
            "alert",
        )
    if not product.registration_valid:
        found.add(
            ReasonCode.REGISTRATION_EXPIRED,
            f"the registration certificate expired on {product.registration_expiry.isoformat()}",
            None,
            "warning",
        )


def _check_status(
    status: ItemStatus,
    history: list[_Step],
    found: _Findings,
    chain: list[ChainRef],
    now: int,
    policy: VerifyPolicy,
) -> None:
    last = history[-1] if history else None
    if last is not None and len(history) > 1:
        chain.append(_ref(last.kind.name.lower(), last))
    if status in (ItemStatus.DISPENSED, ItemStatus.DESTROYED):
        kind = EventKind.DISPENSED if status == ItemStatus.DISPENSED else EventKind.DESTROYED
        verdict = Verdict.DISPENSED if status == ItemStatus.DISPENSED else Verdict.DESTROYED
        word = verdict.value
        when = next((s.timestamp for s in reversed(history) if s.kind == kind), None)
        at = f" on {_iso(when)}" if when is not None else ""
        found.add(
            ReasonCode(word),
            f"the unit was {word}{at}; it must not be in circulation",
            verdict,
            "alert",
        )
        if when is not None and now - when > policy.grace_seconds:
            hours = (now - when) // 3600
            found.add(
                ReasonCode(f"scanned_after_{word}"),
                f"scanned {hours} h after it was {word}: the unit or its label may have been "
                "reused",
                Verdict.SUSPECT,
                "alert",
            )
    elif status == ItemStatus.QUARANTINED:
        found.add(
            ReasonCode.QUARANTINED,
            "quarantined by its holder (e.g. a cold-chain excursion); do not use until released",
            None,
            "warning",
        )
    elif status == ItemStatus.IN_TRANSIT:
        found.add(ReasonCode.IN_TRANSIT, "in transit between two partners", None, "info")


def _check_scans(
    sql: Reader,
    key: bytes,
    location: str,
    pending: Sequence[tuple[int, str]],
    found: _Findings,
    now: int,
    policy: VerifyPolicy,
) -> None:
    """This scan and an earlier member scan of the unit in distant places within the
    window. Earlier anonymous scans (no scanner) are never evidence (module docstring)."""
    if not location:
        return
    rows = sql.rows(
        "SELECT scanned_at, location FROM verification_scans "
        "WHERE item_key = ? AND scanned_at >= ? AND scanner IS NOT NULL "
        "ORDER BY scanned_at DESC LIMIT 100",
        (key, now - policy.window_seconds),
    )
    for scanned_at, where in [*reversed(pending), *rows]:
        if places_distant(str(where), location, distant_km=policy.distant_km):
            minutes = max(0, (now - int(scanned_at)) // 60)
            found.add(
                ReasonCode.TWO_PLACES,
                f"a consortium member scanned it at {where} {minutes} min before this scan at "
                f"{location}: one unit cannot be in both places (only scans by authenticated "
                "members count as evidence; an anonymous scan never changes another "
                "scanner's verdict)",
                Verdict.SUSPECT,
                "alert",
            )
            return
