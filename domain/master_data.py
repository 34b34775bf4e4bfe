"""Product master data: what a device is, as China's UDI database (UDID) publishes it per
UDI-DI: names, model, registration certificate or filing number, class, classification
code, manufacturer, packaging levels, storage conditions, tracking and issuing agency.

All of it is public. What the ledger's rules need (class, storage temperature range,
certificate expiry, the DI set with package levels, the serialised flag) is on-chain in
`Devices`; the whole record is anchored there as the keccak256 of its canonical JSON
(`Devices.updateMasterData`, one version per change) and kept in the API store keyed by
that hash, so every version stays readable and checkable against the chain.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Annotated, Literal

from eth_utils import keccak
from pydantic import BaseModel, ConfigDict, Field, model_validator

from medledger.domain.auth import Member
from medledger.domain.devices import member_ledger
from medledger.domain.errors import Conflict, NotFound
from medledger.domain.services import Component, Services
from medledger.domain.store import api_store
from medledger.domain.verification import VerifyResult
from medledger.indexer.queries import devices as queries
from medledger.indexer.store.master_records import master_records_by_hash, put_master_record
from medledger.sdk.errors import Gs1Error
from medledger.sdk.gs1 import validate_gtin

__all__ = [
    "AnchorOutcome",
    "IssuingAgency",
    "MasterRecord",
    "MasterVersionOut",
    "PackageLevelIn",
    "ProductMasterOut",
    "Storage",
    "anchor_master_record",
    "certificate_hash",
    "current_record",
    "current_record_uncached",
    "expiry_timestamp",
    "forget_names",
    "product_master",
    "with_master_names",
]

# Registration certificates expire at the end of their day, China time.
CHINA = timezone(timedelta(hours=8))
Gtin = Annotated[str, Field(pattern=r"^\d{14}$")]
Text = Annotated[str, Field(max_length=500)]


class IssuingAgency(StrEnum):
    """The issuing agency of the product's code (UDI 发码机构)."""

    GS1 = "GS1"  # 中国物品编码中心 (GS1 China)
    MA = "MA"  # IDcode (中关村工业互联网产业研究院, MA.)
    AHM = "AHM"  # ZIIOT (阿里健康, 码上放心)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PackageLevelIn(_Record):
    """A package DI (包装标识) holding `quantity` of `child_gtin` (包装内含小一级包装标识)."""

    gtin: Gtin
    child_gtin: Gtin
    quantity: int = Field(ge=1, le=2**32 - 1)


class Storage(_Record):
    """储存或操作条件: temperatures in tenths of a degree Celsius, humidity in % RH."""

    temp_min: int = Field(ge=-32768, le=32767)
    temp_max: int = Field(ge=-32768, le=32767)
    humidity_min: int | None = Field(default=None, ge=0, le=100)
    humidity_max: int | None = Field(default=None, ge=0, le=100)
    conditions_zh: Text = ""
    conditions_en: Text = ""

    @model_validator(mode="after")
    def _ranges(self) -> Storage:
        if self.temp_min > self.temp_max:
            raise ValueError("temp_min is above temp_max")
        if (self.humidity_min or 0) > (self.humidity_max if self.humidity_max is not None else 100):
            raise ValueError("humidity_min is above humidity_max")
        return self


class MasterRecord(_Record):
    """One product's public master record (最小销售单元产品标识 and what UDID lists for it)."""

    gtin: Gtin
    issuing_agency: IssuingAgency = IssuingAgency.GS1
    name_zh: str = Field(min_length=1, max_length=200)
    name_en: str = Field(default="", max_length=200)
    model: str = Field(min_length=1, max_length=500)
    registration_number: str = Field(min_length=1, max_length=100)
    registration_expiry: date
    device_class: int = Field(ge=1, le=3)
    classification_code: str = Field(default="", max_length=40)
    manufacturer_zh: str = Field(min_length=1, max_length=200)
    manufacturer_en: str = Field(default="", max_length=200)
    serialised: bool
    single_use: bool = False
    storage: Storage
    packages: tuple[PackageLevelIn, ...] = ()

    @model_validator(mode="after")
    def _keys(self) -> MasterRecord:
        for key in (self.gtin, *(p.gtin for p in self.packages)):
            try:
                validate_gtin(key)
            except Gs1Error as exc:
                raise ValueError(str(exc)) from exc
        known = {self.gtin}
        for level in self.packages:  # smallest first: each level holds a known one
            if level.child_gtin not in known or level.gtin in known:
                raise ValueError(f"package {level.gtin} must hold {self.gtin} or a smaller package")
            known.add(level.gtin)
        return self

    def canonical(self) -> bytes:
        """The canonical JSON the chain anchors: sorted keys, no spaces, UTF-8."""
        body = self.model_dump(mode="json")
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def master_hash(self) -> bytes:
        return bytes(keccak(self.canonical()))


def certificate_hash(registration_number: str) -> bytes:
    """What `registerProduct` records for a certificate known by its (public) number: its
    keccak256, as the portal's product form records it."""
    return bytes(keccak(text=registration_number))


def expiry_timestamp(day: date) -> int:
    """The last second of `day`, China time, as unix seconds."""
    end = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=CHINA)
    return int(end.timestamp())


# ------------------------------------------------------------------ writing


class AnchorOutcome(BaseModel):
    """What one record did on the ledger: `created` (new product), `updated` (a new master
    version), `unchanged`; `version` is the master-data version now current."""

    gtin: str
    outcome: Literal["created", "updated", "unchanged"]
    version: int
    master_hash: str
    packages_registered: list[str] = []
    block_number: int | None = None


def anchor_master_record(
    services: Services, *, member: Member, record: MasterRecord, company_prefix: str | None = None
) -> AnchorOutcome:
    """Register the product if new, its missing package levels, renew its certificate
    expiry if it changed, and anchor the record if it differs from the current version.

    Refuses (409 `master_data_conflict`) a change the ledger cannot make: another
    manufacturer's product, a different class, temperature range or tracking, or a package
    level already registered with other contents."""
    ledger = member_ledger(services, member)
    gtin = record.gtin
    expiry = expiry_timestamp(record.registration_expiry)
    storage = record.storage
    created = False
    block: int | None = None
    on_chain = ledger.product(gtin)
    if on_chain is None:
        prefix = company_prefix or _owned_prefix(services, member.address, gtin)
        result = ledger.register_product(
            gtin,
            company_prefix=prefix,
            device_class=record.device_class,
            certificate_hash=certificate_hash(record.registration_number),
            registration_expiry=expiry,
            temp_min=storage.temp_min,
            temp_max=storage.temp_max,
            serialised=record.serialised,
        )
        created, block = True, int(result.receipt["blockNumber"])
    else:
        if on_chain.manufacturer.lower() != member.address.lower():
            raise Conflict("master_data_conflict", f"{gtin} belongs to another manufacturer")
        ledger_facts = (on_chain.device_class, on_chain.temp_min, on_chain.temp_max)
        if ledger_facts != (record.device_class, storage.temp_min, storage.temp_max):
            raise Conflict(
                "master_data_conflict",
                f"{gtin}: the ledger holds class {ledger_facts[0]} and storage "
                f"{ledger_facts[1]}..{ledger_facts[2]} (tenths of a degree), which cannot change",
            )
        if on_chain.serialised != record.serialised:
            raise Conflict("master_data_conflict", f"{gtin}: tracking (serialised) cannot change")
        if on_chain.registration_expiry != expiry:
            result = ledger.renew_registration(
                gtin,
                certificate_hash=certificate_hash(record.registration_number),
                registration_expiry=expiry,
            )
            block = int(result.receipt["blockNumber"])
    registered: list[str] = []
    for level in record.packages:
        known = ledger.package_level(level.gtin)
        if known is None:
            result = ledger.register_package_level(
                level.gtin, child_gtin=level.child_gtin, quantity=level.quantity
            )
            registered.append(level.gtin)
            block = int(result.receipt["blockNumber"])
        elif (known.child_gtin, known.quantity) != (level.child_gtin, level.quantity):
            raise Conflict(
                "master_data_conflict",
                f"package {level.gtin} holds {known.quantity} x {known.child_gtin} on the ledger",
            )
    master_hash = record.master_hash()
    version, current = ledger.master_data(gtin)
    if current != master_hash:
        put_master_record(
            api_store(services).engine,
            master_hash=master_hash,
            gtin=gtin,
            record=record.canonical().decode(),
            now=int(time.time()),
        )
        result_v = ledger.update_master_data(gtin, master_hash)
        services.components.get(NAMES, _NamesCache).entries.pop(gtin, None)
        version, block = result_v.value, int(result_v.receipt["blockNumber"])
        outcome: Literal["created", "updated", "unchanged"] = "created" if created else "updated"
    else:
        outcome = "updated" if (created or registered or block is not None) else "unchanged"
    return AnchorOutcome(
        gtin=gtin,
        outcome=outcome,
        version=version,
        master_hash="0x" + master_hash.hex(),
        packages_registered=registered,
        block_number=block,
    )


def _owned_prefix(services: Services, address: str, gtin: str) -> str:
    """The member's company prefix that `gtin` carries (after its indicator digit)."""
    with services.engine.connect() as conn:
        prefixes = queries.company_prefixes(conn, address)
    for prefix in sorted(prefixes, key=len, reverse=True):
        if gtin[1 : 1 + len(prefix)] == prefix:
            return prefix
    raise Conflict(
        "prefix_not_owned", f"{gtin} is under none of your company prefixes ({', '.join(prefixes)})"
    )


# ------------------------------------------------------------------ reading


class MasterVersionOut(BaseModel):
    version: int
    master_hash: str
    block_number: int
    tx_hash: str
    anchored_at: datetime | None
    record: MasterRecord | None  # None when this store does not hold the record


class PackageLevelOut(BaseModel):
    gtin: str
    child_gtin: str
    quantity: int
    units: int


class ProductMasterOut(BaseModel):
    """A product's public master data: the ledger's facts, the current record (if any) and
    every anchored version."""

    gtin: str
    requested_gtin: str
    manufacturer: str
    manufacturer_name: str
    device_class: int
    serialised: bool
    temp_min: int
    temp_max: int
    registration_expiry: datetime
    packages: list[PackageLevelOut]
    version: int
    master: MasterRecord | None
    history: list[MasterVersionOut]


def product_master(services: Services, gtin: str) -> ProductMasterOut:
    """The public master data of `gtin`, a product or one of its package levels (404 if
    neither)."""
    with services.engine.connect() as conn:
        level = queries.package_levels(conn, package_gtin=gtin)
        base = level[0].base_gtin if level else gtin
        facts = queries.product_facts(conn, base)
        if facts is None:
            raise NotFound("unknown_product", f"no product or package level {gtin} on the ledger")
        levels = queries.package_levels(conn, base_gtin=base)
        versions = queries.master_versions(conn, base)
    records = master_records_by_hash(api_store(services).engine, (v.master_hash for v in versions))
    history = [
        MasterVersionOut(
            version=v.version,
            master_hash="0x" + v.master_hash.hex(),
            block_number=v.block_number,
            tx_hash="0x" + v.tx_hash.hex(),
            anchored_at=None if v.timestamp is None else datetime.fromtimestamp(v.timestamp, UTC),
            record=_checked(records.get(v.master_hash), v.master_hash),
        )
        for v in versions
    ]
    return ProductMasterOut(
        gtin=base,
        requested_gtin=gtin,
        manufacturer=facts.manufacturer,
        manufacturer_name=facts.manufacturer_name,
        device_class=facts.device_class,
        serialised=facts.serialised,
        temp_min=facts.temp_min,
        temp_max=facts.temp_max,
        registration_expiry=datetime.fromtimestamp(facts.registration_expiry, UTC),
        packages=[
            PackageLevelOut(
                gtin=p.package_gtin,
                child_gtin=p.child_gtin,
                quantity=p.quantity,
                units=p.base_quantity,
            )
            for p in levels
        ],
        version=history[-1].version if history else 0,
        master=history[-1].record if history else None,
        history=history,
    )


def _checked(record: str | None, master_hash: bytes) -> MasterRecord | None:
    """The stored record, only if it still hashes to what the chain anchored."""
    if record is None or bytes(keccak(record.encode())) != master_hash:
        return None
    try:
        return MasterRecord.model_validate_json(record)
    except ValueError:
        return None


# ------------------------------------------------------------------ the verdict's names

NAMES_TTL_SECONDS = 30.0


class _NamesCache:
    """The current master record per GTIN, kept `NAMES_TTL_SECONDS` (verification is the
    hot path; master data changes rarely)."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, MasterRecord | None]] = {}


NAMES: Component[_NamesCache] = Component("master_names")


def current_record_uncached(services: Services, gtin: str) -> MasterRecord | None:
    """The record of the newest anchored version of `gtin`, if this store holds it."""
    with services.engine.connect() as conn:
        versions = queries.master_versions(conn, gtin)
    if not versions:
        return None
    latest = versions[-1].master_hash
    return _checked(
        master_records_by_hash(api_store(services).engine, [latest]).get(latest), latest
    )


def current_record(services: Services, gtin: str) -> MasterRecord | None:
    cache = services.components.get(NAMES, _NamesCache)
    now = time.monotonic()
    hit = cache.entries.get(gtin)
    if hit is not None and hit[0] > now:
        return hit[1]
    found = current_record_uncached(services, gtin)
    if len(cache.entries) > 10_000:
        cache.entries.clear()
    cache.entries[gtin] = (now + NAMES_TTL_SECONDS, found)
    return found


def with_master_names(services: Services, result: VerifyResult) -> VerifyResult:
    """`result` with its product's public names, model and registration number."""
    if result.product is None:
        return result
    record = current_record(services, result.product.gtin)
    if record is None:
        return result
    names = {
        "name_zh": record.name_zh,
        "name_en": record.name_en or None,
        "model": record.model,
        "registration_number": record.registration_number,
        "classification_code": record.classification_code or None,
        "manufacturer_zh": record.manufacturer_zh,
        "manufacturer_en": record.manufacturer_en or None,
    }
    product = result.product.model_copy(update=names)
    return result.model_copy(update={"product": product})


def forget_names(services: Services, gtin: str) -> None:
    """Drop the cached record of `gtin` (a record of it arrived, e.g. through the oversight
    feed on the regulator's side)."""
    services.components.get(NAMES, _NamesCache).entries.pop(gtin, None)
