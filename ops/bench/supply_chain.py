"""A realistic supply-chain data generator: manufacturers, distributors and hospitals
moving serialised devices through commission -> pack -> ship -> receive -> unpack -> ship
-> receive -> dispense, with recalls, rejections and cold-chain excursions.

One deterministic plan (`play`) drives either backend:

- `ChainBackend` sends real transactions through `sdk.ledger.Ledger` (small sizes: tests,
  anvil, our node);
- `LogBackend` emits the equivalent ABI-encoded logs into a `SyntheticChain`, an in-memory
  `LogSource` the indexer ingests through its own decode-and-write path (large sizes:
  benchmarks at 10M item-events without hours of EVM time).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from medledger.indexer.synthetic import LogBackend, SyntheticChain, synthetic_deployment
from medledger.sdk.compiler import ContractArtifact, load_artifacts
from medledger.sdk.deploy import Deployment, deploy_suite
from medledger.sdk.gs1 import make_gtin, make_sscc
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import LicenceKind, Role, class_mask
from medledger.sdk.transactions import send_transaction

__all__ = [
    "ChainBackend",
    "GeneratorConfig",
    "LogBackend",
    "Plan",
    "SyntheticChain",
    "generate_synthetic",
    "play",
    "run_on_chain",
]

YEAR = 365 * 24 * 3600
DAY = 24 * 3600
MAX_BATCH = 1000
KIND_OF = {
    Role.MANUFACTURER: LicenceKind.PRODUCTION,
    Role.DISTRIBUTOR: LicenceKind.DISTRIBUTION,
    Role.HOSPITAL: LicenceKind.PRACTICE,
}


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    """Sizes and rates; the defaults are the full national-scale dataset."""

    manufacturers: int = 10
    distributors: int = 50
    hospitals: int = 500
    products: int = 100
    lots: int = 2000
    units: int = 1_000_000
    big_lot_units: int = 0  # if > 0, lot 0 gets this many units (a recall-scope target)
    units_per_case: int = 10
    cases_per_shipment: int = 5
    dispense_rate: float = 0.8
    recall_rate: float = 0.02
    reject_rate: float = 0.02
    excursion_rate: float = 0.02
    reserve_cases: int = 1  # cases the first maker keeps packed on a pallet at the end
    seed: int = 1

    @classmethod
    def small(cls, **overrides: Any) -> GeneratorConfig:
        base: dict[str, Any] = {
            "manufacturers": 2,
            "distributors": 2,
            "hospitals": 3,
            "products": 2,
            "lots": 3,
            "units": 36,
            "units_per_case": 4,
            "cases_per_shipment": 2,
            "recall_rate": 0.34,
            "reject_rate": 0.3,
            "excursion_rate": 0.5,
            "seed": 9,  # a seed whose small run has a recall, a rejection and an excursion
        }
        base.update(overrides)
        return cls(**base)

    def lot_sizes(self) -> list[int]:
        rest = self.units - self.big_lot_units if self.big_lot_units else self.units
        count = self.lots - 1 if self.big_lot_units else self.lots
        sizes = [rest // count + (1 if i < rest % count else 0) for i in range(count)]
        return [self.big_lot_units, *sizes] if self.big_lot_units else sizes


class Backend(Protocol):
    """What the plan does, in supply-chain terms; members are indexes (0 = regulator)."""

    def admit(self, member: int, role: Role, name: str) -> None: ...
    def licence(self, member: int, kind: LicenceKind, valid_until: int) -> None: ...
    def prefix(self, member: int, prefix: str) -> None: ...
    def product(self, member: int, gtin: str, prefix: str, expiry: int) -> None: ...
    def lot(self, member: int, gtin: str, lot: str, expiry: int) -> bytes: ...
    def commission(
        self, member: int, lot_key: bytes, gtin: str, serials: list[str]
    ) -> list[bytes]: ...
    def container(self, member: int, sscc: str, prefix: str) -> bytes: ...
    def pack(self, member: int, container: bytes, ids: list[bytes]) -> None: ...
    def unpack(self, member: int, container: bytes, ids: list[bytes]) -> None: ...
    def ship(self, sender: int, receiver: int, ids: list[bytes]) -> int: ...
    def receive(
        self, member: int, shipment: int, ids: list[bytes], rejected: list[bytes], excursion: int
    ) -> None: ...
    def release(self, member: int, ids: list[bytes]) -> None: ...
    def dispense(self, member: int, ids: list[bytes]) -> None: ...
    def recall(self, member: int, lot_key: bytes) -> None: ...
    def destroy(self, member: int, ids: list[bytes]) -> None: ...
    def report(self, member: int, subject: bytes, severity: int) -> None: ...
    def anchor(self, member: int, document: bytes, subject: bytes) -> None: ...
    def now(self) -> int: ...


@dataclass
class Plan:
    """What `play` did: member indexes by role, and every unit id per lot."""

    manufacturers: list[int] = field(default_factory=list)
    distributors: list[int] = field(default_factory=list)
    hospitals: list[int] = field(default_factory=list)
    lot_keys: list[bytes] = field(default_factory=list)
    units: dict[bytes, list[bytes]] = field(default_factory=dict)
    containers: list[bytes] = field(default_factory=list)
    recalled: list[bytes] = field(default_factory=list)


def _batches(ids: Sequence[bytes], size: int = MAX_BATCH) -> list[list[bytes]]:
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def play(backend: Backend, cfg: GeneratorConfig) -> Plan:
    """Run the whole deterministic scenario on `backend`."""
    rng = random.Random(cfg.seed)
    plan = Plan()
    now = backend.now()
    member = 1
    for role, count, out in (
        (Role.MANUFACTURER, cfg.manufacturers, plan.manufacturers),
        (Role.DISTRIBUTOR, cfg.distributors, plan.distributors),
        (Role.HOSPITAL, cfg.hospitals, plan.hospitals),
    ):
        for i in range(count):
            backend.admit(member, role, f"{role.name.title()} {i + 1}")
            backend.licence(member, KIND_OF[role], now + 5 * YEAR)
            out.append(member)
            member += 1
    prefixes = {m: str(9500000 + i) for i, m in enumerate(plan.manufacturers)}
    for m, prefix in prefixes.items():
        backend.prefix(m, prefix)
    products: list[tuple[int, str]] = []
    for p in range(cfg.products):
        m = plan.manufacturers[p % len(plan.manufacturers)]
        gtin = make_gtin(indicator=0, company_prefix=prefixes[m], item_reference=p)
        backend.product(m, gtin, prefixes[m], now + 5 * YEAR)
        products.append((m, gtin))
    sscc_refs = dict.fromkeys(plan.manufacturers, 0)

    def new_container(m: int) -> bytes:
        sscc_refs[m] += 1
        sscc = make_sscc(extension=0, company_prefix=prefixes[m], serial_reference=sscc_refs[m])
        cid = backend.container(m, sscc, prefixes[m])
        plan.containers.append(cid)
        return cid

    for lot_no, size in enumerate(cfg.lot_sizes()):
        m, gtin = products[lot_no % len(products)]
        # A few lots expire soon, so "expiring stock" has something to find.
        expiry = now + (20 * DAY if lot_no % 10 == 1 else 2 * YEAR)
        lot_key = backend.lot(m, gtin, f"L{lot_no:06d}", expiry)
        plan.lot_keys.append(lot_key)
        serials = [f"S{lot_no:05d}-{i:06d}" for i in range(size)]
        ids: list[bytes] = []
        for chunk in range(0, size, MAX_BATCH):
            ids += backend.commission(m, lot_key, gtin, serials[chunk : chunk + MAX_BATCH])
        plan.units[lot_key] = ids
        cases: list[tuple[bytes, list[bytes]]] = []
        for c in range(0, size, cfg.units_per_case):
            case = new_container(m)
            content = ids[c : c + cfg.units_per_case]
            backend.pack(m, case, content)
            cases.append((case, content))
        pallets: list[tuple[bytes, list[tuple[bytes, list[bytes]]]]] = []
        for group in range(0, len(cases), MAX_BATCH):
            pallet = new_container(m)
            members = cases[group : group + MAX_BATCH]
            backend.pack(m, pallet, [case for case, _ in members])
            pallets.append((pallet, members))
        d = rng.choice(plan.distributors)
        loose: dict[int, list[bytes]] = {}
        for pallet, members in pallets:
            shipment = backend.ship(m, d, [pallet])
            excursion = 900 if rng.random() < cfg.excursion_rate else 0
            backend.receive(d, shipment, [pallet], [], excursion)
            if excursion:
                backend.release(d, [pallet])
            backend.unpack(d, pallet, [case for case, _ in members])
            for s in range(0, len(members), cfg.cases_per_shipment):
                outbound = members[s : s + cfg.cases_per_shipment]
                h = rng.choice(plan.hospitals)
                case_ids = [case for case, _ in outbound]
                shipment = backend.ship(d, h, case_ids)
                rejected = [case_ids[-1]] if rng.random() < cfg.reject_rate else []
                backend.receive(h, shipment, case_ids, rejected, 0)
                for case, content in outbound:
                    if case in rejected:
                        continue
                    backend.unpack(h, case, content)
                    used = content[: int(len(content) * cfg.dispense_rate)]
                    if used:
                        backend.dispense(h, used)
                    loose.setdefault(h, []).extend(content[len(used) :])
        # The big lot (if any) is always recalled: it is the recall-scope benchmark's target.
        if rng.random() < cfg.recall_rate or (lot_no == 0 and cfg.big_lot_units):
            _recall(backend, plan, m, lot_key, loose)
    _reserve_stock(backend, plan, cfg, products[0], new_container)
    return plan


def _reserve_stock(
    backend: Backend,
    plan: Plan,
    cfg: GeneratorConfig,
    product: tuple[int, str],
    new_container: Callable[[int], bytes],
) -> None:
    """The first maker keeps a reserve lot packed in cases on a pallet (nested containers
    for the contents queries)."""
    m, gtin = product
    lot_key = backend.lot(m, gtin, "RESERVE", backend.now() + 2 * YEAR)
    plan.lot_keys.append(lot_key)
    size = max(cfg.units_per_case, 1)
    ids = backend.commission(
        m, lot_key, gtin, [f"R{i:06d}" for i in range(size * cfg.reserve_cases)]
    )
    plan.units[lot_key] = ids
    cases = [new_container(m) for _ in range(cfg.reserve_cases)]
    for n, case in enumerate(cases):
        backend.pack(m, case, ids[n * size : (n + 1) * size])
    backend.pack(m, new_container(m), cases)


def _recall(
    backend: Backend, plan: Plan, m: int, lot_key: bytes, loose: Mapping[int, list[bytes]]
) -> None:
    """Recall a lot: the first hospital holding loose units returns them and the maker
    destroys them; the others stay outstanding (recall progress has something to show)."""
    backend.recall(m, lot_key)
    plan.recalled.append(lot_key)
    backend.report(m, lot_key, 2)  # a lot's reports are its maker's (or the regulator's)
    backend.anchor(m, keccak(lot_key + b"recall notice"), lot_key)
    for h, ids in list(loose.items())[:1]:
        for chunk in _batches(ids):
            shipment = backend.ship(h, m, chunk)
            backend.receive(m, shipment, chunk, [], 0)
            backend.destroy(m, chunk)


# ---------------------------------------------------------------- real transactions


class ChainBackend:
    """The plan as real transactions through `Ledger` (member 0 is the regulator)."""

    def __init__(self, admin: Ledger, members: Sequence[LocalAccount]) -> None:
        self.admin = admin
        self.ledgers = [admin.as_member(a) for a in members]
        self.regulator = self.ledgers[0]

    def now(self) -> int:
        return int(self.admin.w3.eth.get_block("latest")["timestamp"])

    def admit(self, member: int, role: Role, name: str) -> None:
        self.regulator.admit(self.ledgers[member].address, role, name)

    def licence(self, member: int, kind: LicenceKind, valid_until: int) -> None:
        self.regulator.attest_licence(
            self.ledgers[member].address,
            kind=kind,
            number=f"licence {member}",
            class_mask=class_mask(1, 2, 3),
            valid_until=valid_until,
        )

    def prefix(self, member: int, prefix: str) -> None:
        self.regulator.assign_company_prefix(self.ledgers[member].address, prefix)

    def product(self, member: int, gtin: str, prefix: str, expiry: int) -> None:
        self.ledgers[member].register_product(
            gtin,
            company_prefix=prefix,
            device_class=2,
            certificate_hash=keccak(text=f"certificate {gtin}"),
            registration_expiry=expiry,
            temp_min=20,
            temp_max=250,
        )

    def lot(self, member: int, gtin: str, lot: str, expiry: int) -> bytes:
        return (
            self.ledgers[member]
            .register_lot(gtin, lot, production_date=self.now() - 30 * DAY, expiry=expiry)
            .value
        )

    def commission(self, member: int, lot_key: bytes, gtin: str, serials: list[str]) -> list[bytes]:
        return self.ledgers[member].commission(lot_key, serials).value

    def container(self, member: int, sscc: str, prefix: str) -> bytes:
        return self.ledgers[member].create_container(sscc, company_prefix=prefix).value

    def pack(self, member: int, container: bytes, ids: list[bytes]) -> None:
        self.ledgers[member].pack(container, ids)

    def unpack(self, member: int, container: bytes, ids: list[bytes]) -> None:
        self.ledgers[member].unpack(container)

    def ship(self, sender: int, receiver: int, ids: list[bytes]) -> int:
        return self.ledgers[sender].ship(self.ledgers[receiver].address, ids).value

    def receive(
        self, member: int, shipment: int, ids: list[bytes], rejected: list[bytes], excursion: int
    ) -> None:
        ledger = self.ledgers[member]
        order, signature = ledger.sign_receive(
            shipment, temp_min=50, temp_max=80, rejected_ids=rejected, excursion_seconds=excursion
        )
        ledger.relay_receive(order, signature, item_ids=ids)

    def release(self, member: int, ids: list[bytes]) -> None:
        self.ledgers[member].release(ids)

    def dispense(self, member: int, ids: list[bytes]) -> None:
        self.ledgers[member].dispense(ids, record_hash=keccak(text="procedure"))

    def recall(self, member: int, lot_key: bytes) -> None:
        self.ledgers[member].recall_lot(lot_key, level=2, reason_hash=keccak(text="recall"))

    def destroy(self, member: int, ids: list[bytes]) -> None:
        self.ledgers[member].destroy(ids, record_hash=keccak(text="destruction"))

    def report(self, member: int, subject: bytes, severity: int) -> None:
        self.ledgers[member].report_adverse_event(
            subject, severity=severity, report_hash=keccak(subject + b"report")
        )

    def anchor(self, member: int, document: bytes, subject: bytes) -> None:
        self.ledgers[member].anchor_document(document, subject_id=subject, kind=1)


@dataclass
class ChainRun:
    deployment: Deployment
    backend: ChainBackend
    plan: Plan


def member_accounts(count: int, *, seed: int) -> list[LocalAccount]:
    """Deterministic member keys for a generated consortium."""
    return [Account.from_key(keccak(text=f"medledger-gen:{seed}:{i}")) for i in range(count)]


def run_on_chain(
    w3: Web3,
    funder: LocalAccount,
    cfg: GeneratorConfig,
    *,
    artifacts: dict[str, ContractArtifact] | None = None,
    deployment: Deployment | None = None,
    fund: bool = True,
) -> ChainRun:
    """Deploy the suite with `funder` as admin (or use `deployment`, whose Partners admin
    `funder` must be), fund generated members (unless gas is free), play the plan."""
    arts = artifacts or load_artifacts()
    deployment = deployment or deploy_suite(w3, funder, artifacts=arts)
    members = member_accounts(
        1 + cfg.manufacturers + cfg.distributors + cfg.hospitals, seed=cfg.seed
    )
    for account in members if fund else []:
        send_transaction(w3, funder, {"to": account.address, "value": 10**19, "gas": 21_000})
    admin = Ledger(w3, deployment, funder, artifacts=arts)
    admin.admit(members[0].address, Role.REGULATOR, "Regulator")
    backend = ChainBackend(admin, members)
    return ChainRun(deployment, backend, play(backend, cfg))


def generate_synthetic(
    cfg: GeneratorConfig,
    *,
    artifacts: dict[str, ContractArtifact] | None = None,
    logs_per_block: int = 20,
) -> tuple[SyntheticChain, Deployment, Plan]:
    """The plan as a synthetic chain of logs, with its deployment and plan."""
    deployment = synthetic_deployment()
    backend = LogBackend(deployment, artifacts=artifacts, logs_per_block=logs_per_block)
    backend.admit(0, Role.REGULATOR, "Regulator")
    plan = play(backend, cfg)
    return backend.chain(), deployment, plan


def main(argv: Sequence[str] | None = None) -> int:
    """Play the small scenario as real transactions on a chain and save its deployment:
    `python -m ops.bench.supply_chain --rpc URL --key HEX --deployment-out FILE`."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--rpc", required=True, help="JSON-RPC URL (anvil, our node, ...)")
    parser.add_argument("--key", required=True, help="funded admin key (hex)")
    parser.add_argument("--deployment-out", type=Path, default=Path("deployment.json"))
    parser.add_argument("--units", type=int, default=36)
    parser.add_argument("--lots", type=int, default=3)
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args(argv)
    if args.units < args.lots or args.lots < 1:
        parser.error(f"--units ({args.units}) must be >= --lots ({args.lots}) >= 1")
    w3 = Web3(Web3.HTTPProvider(args.rpc))
    if not w3.is_connected():
        parser.error(f"cannot reach the chain at {args.rpc}")
    cfg = GeneratorConfig.small(units=args.units, lots=args.lots, seed=args.seed)
    run = run_on_chain(w3, Account.from_key(args.key), cfg)
    run.deployment.save(args.deployment_out)
    units = sum(len(ids) for ids in run.plan.units.values())
    lots = len(run.plan.lot_keys)
    print(f"played {units} units in {lots} lots; deployment in {args.deployment_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
