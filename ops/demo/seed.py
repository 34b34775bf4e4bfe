"""The demo consortium `medledger up` seeds once on its own chain: a regulator, three
manufacturers, three distributors, a logistics provider and four hospitals with invented
but plausible bilingual names; fifteen products with their master data (imported as a
manufacturer imports it, `ops.demo.master`): serialised implants and lot-tracked
consumables with box and case levels; eleven lots and their history (units and quantities,
cases, a mixed pallet, a partly rejected receipt, dispensings, a recalled serialised lot
and a recalled lot-tracked lot, `ops.demo.lot_history`), plus a portal user per
organisation.

Member keys and the demo passwords are kept with mode 0600 under the stack's `secrets/`;
`seed.json` (no secrets) records what was seeded and marks the seed as done.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3

from medledger.domain.acceptance import AcceptanceIn, AcceptanceLine, seal_acceptance
from medledger.domain.auth import Member
from medledger.domain.master_data import MasterRecord
from medledger.domain.master_files import parse_row
from medledger.domain.master_import import read_file
from medledger.domain.recall_actions import NoticeIn, seal_notice
from medledger.domain.records import RecordKind
from medledger.domain.services import Services
from medledger.ops.demo.consortium import YEAR, enrol_member
from medledger.ops.demo.gsp_records import gsp_records
from medledger.ops.demo.lot_history import LOTS, MAKER, lot_history
from medledger.ops.demo.master import MASTER_FILES, import_master_data, master_file
from medledger.ops.demo.notes import DemoNotes
from medledger.ops.demo.sites import seed_sites
from medledger.sdk.dates import day_end, day_of, day_start
from medledger.sdk.deploy import Deployment
from medledger.sdk.gs1 import lot_key, make_sscc
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import LicenceKind, Role

__all__ = ["ORGANISATIONS", "SeedResult", "load_seed", "save_seed", "seed_demo"]

DAY = 24 * 3600


@dataclass(frozen=True, slots=True)
class Organisation:
    slug: str
    role: Role
    kind: LicenceKind
    name: str
    prefix: str | None = None


ORGANISATIONS = (
    Organisation("nmpa", Role.REGULATOR, LicenceKind.PRACTICE,
                 "国家药品监督管理局（演示） / National Medical Products Administration (demo)"),
    Organisation("chengrui", Role.MANUFACTURER, LicenceKind.PRODUCTION,
                 "上海澄瑞医疗器械有限公司 / Shanghai Chengrui Medical Devices Co., Ltd.",
                 "6970012"),
    Organisation("maikang", Role.MANUFACTURER, LicenceKind.PRODUCTION,
                 "深圳迈康生物医学工程有限公司 / Shenzhen Maikang Biomedical Engineering Co., Ltd.",
                 "6970034"),
    Organisation("huadong", Role.MANUFACTURER, LicenceKind.PRODUCTION,
                 "华东示范医疗器械有限公司 / East China Demo Medical Devices Co., Ltd.",
                 "9506000"),
    Organisation("ruitong", Role.DISTRIBUTOR, LicenceKind.DISTRIBUTION,
                 "华东瑞通医药供应链有限公司 / East China Ruitong Medical Supply Chain Co., Ltd."),
    Organisation("kangze", Role.DISTRIBUTOR, LicenceKind.DISTRIBUTION,
                 "北京康泽医疗器械经营有限公司 / Beijing Kangze Medical Device Trading Co., Ltd."),
    Organisation("nanyue", Role.DISTRIBUTOR, LicenceKind.DISTRIBUTION,
                 "广州南粤医疗物资配送有限公司 / Guangzhou Nanyue Medical Supplies Co., Ltd."),
    Organisation("coldlink", Role.LOGISTICS, LicenceKind.LOGISTICS,
                 "冷链速运（上海）物流有限公司 / ColdLink Express (Shanghai) Logistics Co., Ltd."),
    Organisation("jiahe", Role.HOSPITAL, LicenceKind.PRACTICE,
                 "上海嘉禾医院 / Shanghai Jiahe Hospital"),
    Organisation("xihu", Role.HOSPITAL, LicenceKind.PRACTICE,
                 "杭州西湖康复医院 / Hangzhou Xihu Rehabilitation Hospital"),
    Organisation("chaoyang", Role.HOSPITAL, LicenceKind.PRACTICE,
                 "北京朝阳东区医院 / Beijing Chaoyang East Hospital"),
    Organisation("baiyun", Role.HOSPITAL, LicenceKind.PRACTICE,
                 "广州白云山医院 / Guangzhou Baiyunshan Hospital"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Product:
    """A product the seed registers lots of (its master data comes from `MASTER_FILES`)."""

    maker: str
    gtin: str
    lots: tuple[str, ...]


PRODUCTS = (
    Product("chengrui", "06970012100019", ("CR2601A", "CR2602B")),  # coronary stent
    Product("chengrui", "06970012100026", ("BC2603A",)),  # balloon catheter
    Product("maikang", "06970034200018", ("MK2604A",)),  # insulin pump infusion set
    Product("maikang", "06970034200025", ("MK2605H",)),  # haemodialyser
    *(Product(MAKER, plan.gtin, (plan.lot,)) for plan in LOTS),
)


@dataclass(frozen=True, slots=True)
class SeedResult:
    """What `medledger up` prints: organisations, sign-ins and a code to verify."""

    organisations: list[dict[str, str]]
    sample_path: str  # Digital Link path of a genuine unit at a hospital
    recalled_path: str  # a unit of the recalled lot
    # gtin, name, lots, serialised, case_gtin and case_units (older seeds: the first three)
    products: list[dict[str, Any]]
    lot_path: str = ""  # a lot-tracked lot in use (older seeds: none)
    recalled_lot_path: str = ""  # the recalled lot-tracked lot


def _member_keys(path: Path) -> dict[str, LocalAccount]:
    from medledger.ops.secrets import private_file

    text = private_file(
        path, lambda: json.dumps({o.slug: "0x" + secrets.token_hex(32) for o in ORGANISATIONS})
    )
    return {slug: Account.from_key(key) for slug, key in json.loads(text).items()}


def load_seed(data_dir: Path) -> SeedResult | None:
    path = data_dir / "seed.json"
    if not path.exists():
        return None
    return SeedResult(**json.loads(path.read_text()))


def seed_demo(
    *,
    rpc_url: str,
    deployment: Deployment,
    admin: LocalAccount,
    regulator: LocalAccount,
    relayer: str,
    data_dir: Path,
    partner: Services,
    echo: Callable[[str], None] = print,
    w3: Web3 | None = None,
) -> SeedResult:
    """Seed the consortium and its history on the chain at `rpc_url` (or `w3`; once: the
    result is stored in `data_dir/seed.json`); `regulator` is the regulator API's signing
    key, `partner` the partner API's services (the master data and the members' sealed
    notes go into its store)."""
    done = load_seed(data_dir)
    if done is not None:
        return done
    w3 = w3 or Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 60}))
    now = int(w3.eth.get_block("latest")["timestamp"])
    keys = _member_keys(data_dir / "secrets" / "members.json")
    keys["nmpa"] = regulator
    root = Ledger(w3, deployment, admin)
    nmpa_org = ORGANISATIONS[0]
    root.admit(regulator.address, Role.REGULATOR, nmpa_org.name)
    root.grant_relayer(relayer)
    reg = root.as_member(regulator)
    members: dict[str, Ledger] = {"nmpa": reg}
    for org in ORGANISATIONS[1:]:
        address = keys[org.slug].address
        enrol_member(reg, address, role=org.role, kind=org.kind, name=org.name, now=now)
        if org.prefix:
            reg.assign_company_prefix(address, org.prefix)
        members[org.slug] = root.as_member(keys[org.slug])
    note = DemoNotes(partner, members)
    echo(f"seed: {len(ORGANISATIONS)} organisations admitted and licensed")
    glns = seed_sites(
        reg,
        members,
        roles={o.slug: o.role for o in ORGANISATIONS},
        prefixes={o.slug: o.prefix for o in ORGANISATIONS},
        names={o.slug: o.name for o in ORGANISATIONS},
    )
    echo(f"seed: {len(glns)} members have a GLN and their sites")
    prefixes = {o.slug: o.prefix for o in ORGANISATIONS if o.prefix}
    records: dict[str, MasterRecord] = {}
    for slug, filename in MASTER_FILES.items():
        import_master_data(partner, keys[slug], filename=filename, prefix=prefixes[slug])
        for row in read_file(filename, master_file(filename)):
            record = parse_row(row).record
            assert record is not None  # the import refused no row
            records[record.gtin] = record
    echo(f"seed: master data of {len(records)} products imported and anchored")
    lots: dict[str, tuple[str, bytes, int]] = {}  # lot -> (gtin, lot key, expiry)
    for p in PRODUCTS:
        maker = members[p.maker]
        for n, lot in enumerate(p.lots):
            # Calendar days in the consortium's zone, as the portal's lot form stores them.
            expiry = day_end(day_of(now + 2 * YEAR - n * 90 * DAY))
            key = maker.register_lot(
                p.gtin,
                lot,
                production_date=day_start(day_of(now - (60 - 20 * n) * DAY)),
                expiry=expiry,
                qc_release_hash=note(
                    p.maker,
                    RecordKind.QC_RELEASE,
                    lot_key(p.gtin, lot),
                    {"gtin": p.gtin, "lot": lot, "qc_release": f"QC release {lot}"},
                ),
            ).value
            lots[lot] = (p.gtin, key, expiry)
    echo(f"seed: {len(lots)} lots registered")

    def notice(maker: str, lot: str, level: int, reason: str, action: str) -> bytes:
        """A demo recall's notice, sealed in the partner store: its salted commitment."""
        address = members[maker].address
        text = NoticeIn(reason=reason, action=action, contact=f"QA, {maker}")
        sealed = seal_notice(
            partner,
            author=address,
            manufacturer=[address],
            gtin=lots[lot][0],
            lot=lot,
            level=level,
            notice=text,
        )
        return sealed.commitment

    def accept(receiver: str, shipment_id: int, lot: str, count: int, temp: int) -> bytes:
        """A receipt's acceptance record (验收记录), sealed as the portal's receive form
        seals it (`domain.acceptance`): its salted commitment."""
        gtin, _, expiry = lots[lot]
        product = records[gtin]
        record = AcceptanceIn(
            lines=[
                AcceptanceLine(
                    gtin=gtin,
                    product=f"{product.name_zh} / {product.name_en}"[:200],
                    specification=product.model[:200],
                    # Left out: Devices keeps keccak256(registration number) as the
                    # certificate hash, which the no-guessable-hash scan would then flag.
                    lot=lot,
                    expiry=day_of(expiry).isoformat(),
                    quantity_received=count,
                    quantity_accepted=count,
                    conclusion="qualified",
                )
            ],
            inspector="收货验收员 / receiving inspector",
            temperature_on_arrival=temp,
        )
        ledger = members[receiver]
        member = Member(ledger.address, ledger.member(ledger.address).role, None, "cli")
        state = ledger.shipment(shipment_id)
        return seal_acceptance(partner, member=member, shipment=state, record=record).commitment

    sample = _history(members, prefixes, lots, note, notice=notice, accept=accept)
    sample |= lot_history(
        members, {lot: key for lot, (_, key, _) in lots.items()}, note, notice=notice
    )
    echo("seed: shipments, receipts, dispensings and two recalls recorded")
    gsp_records(partner, keys, lambda: int(w3.eth.block_number), echo)
    return SeedResult(
        organisations=[
            {
                "slug": o.slug,
                "name": o.name,
                "role": o.role.name.lower(),
                "address": keys[o.slug].address,
            }
            for o in ORGANISATIONS
        ],  # fmt: skip
        sample_path=sample["genuine"],
        recalled_path=sample["recalled"],
        products=[
            {
                "gtin": p.gtin,
                "name": f"{records[p.gtin].name_zh} / {records[p.gtin].name_en}",
                "lots": list(p.lots),
                "serialised": records[p.gtin].serialised,
                **_largest_package(records[p.gtin]),
            }
            for p in PRODUCTS
        ],
        lot_path=sample["lot"],
        recalled_lot_path=sample["recalled_lot"],
    )


def _largest_package(record: MasterRecord) -> dict[str, Any]:
    """`case_gtin` and `case_units` of the product's largest package level, if any."""
    if not record.packages:
        return {}
    units = 1
    for level in record.packages:  # smallest first, each holding the one before
        units *= level.quantity
    return {"case_gtin": record.packages[-1].gtin, "case_units": units}


def save_seed(data_dir: Path, result: SeedResult) -> None:
    """Mark the seed as done (after the portal users exist too)."""
    (data_dir / "seed.json").write_text(json.dumps(asdict(result), ensure_ascii=False, indent=2))


def _history(
    m: dict[str, Ledger],
    prefixes: dict[str, str],
    lots: dict[str, tuple[str, bytes, int]],
    note: DemoNotes,
    *,
    notice: Callable[[str, str, int, str, str], bytes],
    accept: Callable[[str, int, str, int, int], bytes],
) -> dict[str, str]:
    """Commission → pack → ship → receive → unpack → ship → receive → dispense, a leg
    through the logistics provider, and an open recall of one lot."""

    def commission(maker: str, lot: str, tag: str, count: int) -> tuple[list[bytes], list[str]]:
        gtin, key, _ = lots[lot]
        serials = [f"{tag}{i:05d}" for i in range(1, count + 1)]
        return m[maker].commission(key, serials).value, serials

    def case(maker: str, ref: int, units: list[bytes]) -> bytes:
        sscc = make_sscc(extension=1, company_prefix=prefixes[maker], serial_reference=ref)
        case_id = m[maker].create_container(sscc, company_prefix=prefixes[maker]).value
        m[maker].pack(case_id, units)
        return case_id

    def move(
        sender: str, receiver: str, ids: list[bytes], temps: tuple[int, int], lot: str, count: int
    ) -> None:
        """Ship `ids` (`count` units of `lot`); the receiver accepts them all, its acceptance
        record sealed and its commitment the receipt's inspection hash."""
        shipment = m[sender].ship(m[receiver].address, ids).value
        m[receiver].receive(
            shipment,
            temp_min=temps[0],
            temp_max=temps[1],
            inspection_hash=accept(receiver, shipment, lot, count, temps[1]),
        )

    # Stents: a case to Ruitong, who ships units on to two hospitals; Jiahe implants two.
    stents, stent_serials = commission("chengrui", "CR2601A", "S", 12)
    stent_case = case("chengrui", 1, stents)
    move("chengrui", "ruitong", [stent_case], (41, 68), "CR2601A", 12)
    m["ruitong"].unpack(stent_case)
    move("ruitong", "jiahe", stents[:4], (45, 72), "CR2601A", 4)
    move("ruitong", "xihu", stents[4:8], (50, 80), "CR2601A", 4)
    implant = {"use": "implant", "reference": "JH-2026-0412"}
    m["jiahe"].dispense(
        stents[:2], record_hash=note("jiahe", RecordKind.DISPENSE, stents[0], implant)
    )
    # Second stent lot to Kangze, on to Chaoyang.
    more, _ = commission("chengrui", "CR2602B", "T", 6)
    move("chengrui", "kangze", more, (38, 61), "CR2602B", 6)
    move("kangze", "chaoyang", more[:3], (42, 66), "CR2602B", 3)
    # Catheters: to Kangze; the lot is then recalled with three units still there.
    catheters, catheter_serials = commission("chengrui", "BC2603A", "B", 6)
    move("chengrui", "kangze", catheters, (40, 70), "BC2603A", 6)
    move("kangze", "chaoyang", catheters[:3], (44, 71), "BC2603A", 3)
    reason = notice(
        "chengrui", "BC2603A", 2, "balloon burst pressure deviation", "quarantine and return"
    )
    m["chengrui"].recall_lot(lots["BC2603A"][1], level=2, reason_hash=reason)
    # Infusion sets: through ColdLink to Nanyue, on to Baiyun; dialysers to Nanyue.
    sets, _ = commission("maikang", "MK2604A", "P", 10)
    sets_case = case("maikang", 1, sets)
    move("maikang", "coldlink", [sets_case], (30, 55), "MK2604A", 10)
    move("coldlink", "nanyue", [sets_case], (32, 58), "MK2604A", 10)
    m["nanyue"].unpack(sets_case)
    move("nanyue", "baiyun", sets[:5], (35, 60), "MK2604A", 5)
    ward = {"use": "dispense", "reference": "ward record BY-7731"}
    m["baiyun"].dispense(sets[:1], record_hash=note("baiyun", RecordKind.DISPENSE, sets[0], ward))
    dialysers, _ = commission("maikang", "MK2605H", "H", 4)
    move("maikang", "nanyue", dialysers, (36, 64), "MK2605H", 4)

    def path(lot: str, serial: str) -> str:
        return f"/01/{lots[lot][0]}/10/{lot}/21/{serial}"  # what a label QR code holds

    return {
        "genuine": path("CR2601A", stent_serials[2]),  # at Jiahe, not yet implanted
        "recalled": path("BC2603A", catheter_serials[0]),
    }
