"""A small demo consortium on any chain: a regulator, a manufacturer, a distributor, a
logistics provider and two hospitals, licensed, with one class III product and one lot.

Used by `medledger demo lifecycle`, the contract tests and the gas report.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from medledger.ops.demo.notes import unkept_commitment
from medledger.sdk.compiler import ContractArtifact, load_artifacts
from medledger.sdk.dates import day_end, day_of, day_start
from medledger.sdk.deploy import Deployment, deploy_suite
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import LicenceKind, Role, class_mask

__all__ = [
    "DEMO_GTIN",
    "DEMO_LOT",
    "DEMO_PREFIX",
    "Consortium",
    "bootstrap_consortium",
    "enrol_member",
]

DEMO_PREFIX = "9506000"
DEMO_GTIN = "09506000134352"
DEMO_LOT = "LOT2026A"
DISTRIBUTOR_PREFIX = "6901234"
YEAR = 365 * 24 * 3600
MEMBER_ROLES = (
    ("manufacturer", Role.MANUFACTURER, LicenceKind.PRODUCTION, "Shanghai MedTech Devices Co."),
    ("distributor", Role.DISTRIBUTOR, LicenceKind.DISTRIBUTION, "Jiangsu Medical Distribution"),
    ("logistics", Role.LOGISTICS, LicenceKind.LOGISTICS, "ColdChain Logistics Ltd."),
    ("hospital", Role.HOSPITAL, LicenceKind.PRACTICE, "Ruijin Hospital"),
    ("hospital2", Role.HOSPITAL, LicenceKind.PRACTICE, "Huashan Hospital"),
)


@dataclass
class Consortium:
    deployment: Deployment
    admin: Ledger
    regulator: Ledger
    manufacturer: Ledger
    distributor: Ledger
    logistics: Ledger
    hospital: Ledger
    hospital2: Ledger
    lot_key: bytes
    gtin: str = DEMO_GTIN
    lot: str = DEMO_LOT
    prefix: str = DEMO_PREFIX
    distributor_prefix: str = DISTRIBUTOR_PREFIX

    def by_name(self, name: str) -> Ledger:
        ledger: Ledger = getattr(self, name)
        return ledger


def enrol_member(
    regulator: Ledger, address: str, *, role: Role, kind: LicenceKind, name: str, now: int
) -> None:
    """Admit `address` under `name` and attest its licence for device classes I-III."""
    regulator.admit(address, role, name)
    regulator.attest_licence(
        address,
        kind=kind,
        number=f"LIC-{int(kind)}-{address[2:10].upper()}",  # public registration data
        class_mask=class_mask(1, 2, 3),
        valid_until=now + 5 * YEAR,
    )


def bootstrap_consortium(
    w3: Web3,
    accounts: list[LocalAccount],
    *,
    now: int,
    artifacts: dict[str, ContractArtifact] | None = None,
    deployment: Deployment | None = None,
) -> Consortium:
    """Deploy the suite (unless `deployment` is given, deployed by `accounts[0]`) and set
    up the demo members; `accounts` needs at least 7 keys: admin, regulator, then the five
    members of MEMBER_ROLES in order."""
    if len(accounts) < 2 + len(MEMBER_ROLES):
        raise ValueError(f"need {2 + len(MEMBER_ROLES)} accounts, got {len(accounts)}")
    arts = artifacts or load_artifacts()
    admin_account, regulator_account, *member_accounts = accounts
    deployment = deployment or deploy_suite(w3, admin_account, artifacts=arts)
    admin = Ledger(w3, deployment, admin_account, artifacts=arts)
    if not admin.is_active(regulator_account.address):  # `medledger deploy --regulator` did
        admin.admit(
            regulator_account.address, Role.REGULATOR, "National Medical Products Administration"
        )
    regulator = admin.as_member(regulator_account)
    ledgers: dict[str, Ledger] = {}
    for (name, role, kind, org), account in zip(MEMBER_ROLES, member_accounts, strict=False):
        enrol_member(regulator, account.address, role=role, kind=kind, name=org, now=now)
        ledgers[name] = admin.as_member(account)
    regulator.assign_company_prefix(ledgers["manufacturer"].address, DEMO_PREFIX)
    regulator.assign_company_prefix(ledgers["distributor"].address, DISTRIBUTOR_PREFIX)
    manufacturer = ledgers["manufacturer"]
    manufacturer.register_product(
        DEMO_GTIN,
        company_prefix=DEMO_PREFIX,
        device_class=3,
        certificate_hash=keccak(text="NMPA registration 20263130001"),
        registration_expiry=now + 5 * YEAR,
        temp_min=20,
        temp_max=250,
    )
    lot_key = manufacturer.register_lot(
        DEMO_GTIN,
        DEMO_LOT,
        # Calendar days in the consortium's zone, as the portal's lot form stores them.
        production_date=day_start(day_of(now - 30 * 24 * 3600)),
        expiry=day_end(day_of(now + 2 * YEAR)),
        qc_release_hash=unkept_commitment({"qc_release": f"QC release {DEMO_LOT}"}),
    ).value
    return Consortium(
        deployment=deployment,
        admin=admin,
        regulator=regulator,
        lot_key=lot_key,
        manufacturer=ledgers["manufacturer"],
        distributor=ledgers["distributor"],
        logistics=ledgers["logistics"],
        hospital=ledgers["hospital"],
        hospital2=ledgers["hospital2"],
    )
