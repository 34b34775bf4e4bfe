"""`medledger demo simulate`: realistic traffic on a running `medledger up` stack.

Writer threads take fresh units through their life over the partner HTTP API, signed with
the seeded members' own keys (sign-in by personal signature; EIP-712 ship and receive
orders inside member-signed transactions posted to `/v1/partner/transactions`, see
`ops.demo.e2e_lifecycle.ApiMember`): commission → ship to a distributor → receive → ship to
a hospital → receive → dispense one. Lot-tracked products (syringes, masks) travel by
quantity, signed the same way: commission a lot quantity → pack a case of the product's
case level → ship the case with loose quantities to a distributor → receive (now and then
rejecting part of the loose quantity, as for damaged cartons) → ship a loose quantity to a
hospital → receive → dispense part of it. A scanner thread sends public `GET /v1/verify`
scans of known units from a pool of simulated phones. Writes and scans share the `rate`
(ops/s).

Every write the API acknowledged (HTTP 201/200 with a transaction hash) is kept in
`Traffic.acked`, which the chaos soak checks against the chain. A failed write (the node or
the API being down) is counted, the member's nonces are re-read from the chain, and the
unit's journey is abandoned.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from eth_account import Account
from web3 import HTTPProvider, Web3

from medledger.ops.demo.e2e_lifecycle import DEADLINE_SECONDS, ApiMember, LifecycleError
from medledger.ops.demo.seed import ORGANISATIONS, load_seed
from medledger.sdk.compiler import load_artifacts
from medledger.sdk.deploy import Deployment
from medledger.sdk.gs1 import Udi, item_id, lot_key, unit_path
from medledger.sdk.ledger import Ledger
from medledger.sdk.messages import LotQuantity

__all__ = ["Acked", "Traffic", "TrafficStats", "stack_urls"]

WRITERS = 2  # one per team; a member belongs to one team, so its nonces have one owner
PHONES = 25  # scanner identities (X-API-Key buckets) so scans are not rate-limited as one
UNITS_PER_JOURNEY = 3
LOT_JOURNEY_SHARE = 0.4  # of a team's journeys, when it has lot-tracked products
LOOSE = 300  # units shipped loose beside the case; a tenth of them rejected at times
REJECT_CHANCE = 0.2
TOKEN_REFRESH_SECONDS = 300.0  # sign in again well within the API's token lifetime (900 s)


@dataclass(frozen=True, slots=True)
class Acked:
    """A write the API acknowledged: the chain must hold it."""

    tx_hash: str
    kind: str
    block: int


@dataclass
class TrafficStats:
    writes: int = 0
    failed_writes: int = 0
    scans: int = 0
    failed_scans: int = 0
    journeys: int = 0
    lot_journeys: int = 0  # of the journeys, those of lot-tracked quantities
    verdicts: Counter[str] = field(default_factory=Counter)
    last_error: str = ""

    def line(self, elapsed: float) -> str:
        ops = (self.writes + self.scans) / elapsed if elapsed else 0.0
        return (
            f"{elapsed:6.0f} s  {ops:5.1f} ops/s  writes {self.writes} (failed "
            f"{self.failed_writes})  scans {self.scans} (failed {self.failed_scans})  "
            f"lifecycles {self.journeys} (by quantity {self.lot_journeys})  "
            f"verdicts {dict(self.verdicts)}"
        )


def stack_urls(data_dir: Path) -> dict[str, str]:
    """The URLs `medledger up` wrote for a running stack (`urls.json`)."""
    path = data_dir / "urls.json"
    if not path.exists():
        raise LifecycleError(f"{path} does not exist: is `medledger up --data-dir {data_dir}` up?")
    urls: dict[str, str] = json.loads(path.read_text())
    return urls


T = TypeVar("T")


class _Stopped(Exception):
    """The traffic was told to stop between two steps."""


class _Pacer:
    """Hands out evenly spaced slots at `rate` per second to any number of threads."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self, stop: threading.Event) -> bool:
        with self._lock:
            now = time.monotonic()
            self._next = max(self._next + self.interval, now - 1.0)  # no burst after a stall
            slot = self._next
        return not stop.wait(max(0.0, slot - now))


class _Member(ApiMember):
    """An ApiMember that records acknowledged writes and re-reads its nonces after a
    failure (a transaction lost with a killed node leaves a gap otherwise)."""

    acked: list[Acked]
    signed_in_at = 0.0

    def sign_in(self) -> None:
        super().sign_in()
        self.signed_in_at = time.monotonic()

    def transact(self, fn: str, args: Sequence[Any], *, items: int = 1) -> dict[str, Any]:
        if time.monotonic() - self.signed_in_at > TOKEN_REFRESH_SECONDS:
            self.sign_in()  # before the bearer token expires, as a long-running client must
        answer = super().transact(fn, args, items=items)
        self.acked.append(Acked(answer["tx_hash"], fn, int(answer.get("block_number") or 0)))
        return answer

    def resync(self) -> None:
        with self._nonce_lock, self._order_lock:
            account = self.ledger.account.address
            self._tx_nonce = int(self.ledger.w3.eth.get_transaction_count(account, "pending"))
            self._order_nonce = self.ledger.nonce()


class Traffic:
    """Signed-in members of the seeded consortium, ready to generate traffic."""

    def __init__(self, *, api_url: str, rpc_url: str, data_dir: Path) -> None:
        seed = load_seed(data_dir)
        if seed is None:
            raise LifecycleError(f"{data_dir} holds no seeded stack (run `medledger up` first)")
        keys = json.loads((data_dir / "secrets" / "members.json").read_text())
        deployment = Deployment.load(data_dir / "deployment.json")
        self.api_url = api_url
        self.http = httpx.Client(base_url=api_url, timeout=60)
        self.w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 60}))
        artifacts = load_artifacts()
        items = self.w3.eth.contract(
            address=Web3.to_checksum_address(deployment.items), abi=artifacts["Items"].abi
        )
        deadline = int(self.w3.eth.get_block("latest")["timestamp"]) + DEADLINE_SECONDS
        self.acked: list[Acked] = []
        self.stats = TrafficStats()
        self._lock = threading.Lock()
        self.members: dict[str, _Member] = {}
        roles = {o.slug: o.role.name.lower() for o in ORGANISATIONS}
        for slug, key in keys.items():
            if roles.get(slug) in (None, "regulator"):
                continue
            ledger = Ledger(self.w3, deployment, Account.from_key(key), artifacts=artifacts)
            member = _Member(slug, ledger, self.http, items, gas_price=0, deadline=deadline)
            member.acked = self.acked
            member.sign_in()
            self.members[slug] = member
        # Each simulated phone scans under a real API key of its own (the verify route
        # refuses made-up keys), issued by the members in turn: a member's keys share one
        # verification budget (and a member holds at most 20), so scans are spread over
        # every member's budget rather than rate-limited as one client.
        issuers = list(self.members.values())
        self.phones: list[str] = []
        for i in range(PHONES):
            key = issuers[i % len(issuers)].post("/v1/auth/api-keys", {"label": f"phone {i}"})
            self.phones.append(key["key"])
        by_role: dict[str, list[str]] = {}
        for slug in self.members:
            by_role.setdefault(roles[slug], []).append(slug)
        # Teams of disjoint members, one writer each: a failed write resyncs only its own
        # team's nonces, never a member another writer has a transaction in flight for.
        self.teams = [
            {role: slugs[i::WRITERS] for role, slugs in by_role.items()} for i in range(WRITERS)
        ]
        recalled = {_lot_of(seed.recalled_path), _lot_of(seed.recalled_lot_path)}
        products = list(zip(seed.products, _makers(seed.products), strict=True))
        self.lots = [
            (product["gtin"], lot, maker)
            for product, maker in products
            if product.get("serialised", True)
            for lot in product["lots"]
            if lot not in recalled
        ]
        self.lot_tracked = [
            TrackedLot(product["gtin"], lot, maker, product["case_gtin"], product["case_units"])
            for product, maker in products
            if not product.get("serialised", True) and product.get("case_gtin")
            for lot in product["lots"]
            if lot not in recalled
        ]
        sample = seed.sample_path.split("/")
        self.codes: list[Udi] = [Udi(gtin=sample[2], lot=sample[4], serial=sample[6])]
        self.run_tag = f"{random.randrange(36**4):04x}"
        self._serial = 0

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ running

    def run(
        self,
        *,
        rate: float,
        seconds: float | None = None,
        stop: threading.Event | None = None,
        report: Callable[[str], None] | None = None,
        report_every: float = 5.0,
    ) -> TrafficStats:
        """Generate traffic at `rate` ops/s until `seconds` pass or `stop` is set."""
        stop = stop or threading.Event()
        pacer = _Pacer(rate)
        threads = [
            threading.Thread(target=self._writer, args=(team, pacer, stop), daemon=True)
            for team in self.teams
        ]
        threads.append(threading.Thread(target=self._scanner, args=(pacer, stop), daemon=True))
        for thread in threads:
            thread.start()
        started = time.monotonic()
        try:
            while not stop.wait(report_every):
                if report is not None:
                    report(self.stats.line(time.monotonic() - started))
                if seconds is not None and time.monotonic() - started >= seconds:
                    break
        except KeyboardInterrupt:  # Ctrl-C ends the run; the last report still prints
            pass
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=120)
        if report is not None:
            report(self.stats.line(time.monotonic() - started))
        return self.stats

    def _count(self, name: str, verdict: str | None = None) -> None:
        with self._lock:
            setattr(self.stats, name, getattr(self.stats, name) + 1)
            if verdict is not None:
                self.stats.verdicts[verdict] += 1

    def _serials(self, n: int) -> list[str]:
        with self._lock:
            start = self._serial
            self._serial += n
        return [f"SIM{self.run_tag}{i:06d}" for i in range(start, start + n)]

    def _writer(self, team: dict[str, list[str]], pacer: _Pacer, stop: threading.Event) -> None:
        rng = random.Random()
        lots = [lot for lot in self.lots if lot[2] in team["manufacturer"]]
        tracked = [t for t in self.lot_tracked if t.maker in team["manufacturer"]]
        while not stop.is_set():
            try:
                if tracked and (not lots or rng.random() < LOT_JOURNEY_SHARE):
                    self._lot_journey(team, rng.choice(tracked), rng, pacer, stop)
                    self._count("lot_journeys")
                elif lots:
                    self._journey(team, lots, rng, pacer, stop)
                else:
                    return  # nothing this team's manufacturers make can travel
                self._count("journeys")
            except (LifecycleError, httpx.HTTPError, OSError, ValueError) as exc:
                self._count("failed_writes")
                self.stats.last_error = str(exc)[:300]
                stop.wait(0.5)  # the API or the node is down: do not spin
                self._recover(team, stop)

    def _recover(self, team: dict[str, list[str]], stop: threading.Event) -> None:
        """After a failed write: resync every member's nonces once the chain answers (and
        sign in again if the API refused the token)."""
        refused = "HTTP 401" in self.stats.last_error
        while not stop.is_set():
            try:
                for member in (self.members[s] for slugs in team.values() for s in slugs):
                    member.resync()
                    if refused:
                        member.sign_in()
                return
            except Exception:  # the node is still down: try again shortly
                stop.wait(0.5)

    def _journey(
        self,
        team: dict[str, list[str]],
        lots: list[tuple[str, str, str]],
        rng: random.Random,
        pacer: _Pacer,
        stop: threading.Event,
    ) -> None:
        gtin, lot, maker = rng.choice(lots)
        m = self.members[maker]
        d = self.members[rng.choice(team["distributor"])]
        h = self.members[rng.choice(team["hospital"])]
        serials = self._serials(UNITS_PER_JOURNEY)
        ids = [item_id(unit_path(gtin, s)) for s in serials]

        def step(action: Callable[[], T]) -> T:
            if not pacer.wait(stop):
                raise _Stopped
            result = action()
            self._count("writes")
            return result

        try:
            step(
                lambda: m.transact("commission", [lot_key(gtin, lot), serials], items=len(serials))
            )
            with self._lock:
                self.codes.extend(Udi(gtin=gtin, lot=lot, serial=s) for s in serials)
                del self.codes[:-500]
            first = step(lambda: m.ship(d.address, ids, relayed=False))
            step(lambda: d.receive(first, ids, relayed=False))
            second = step(lambda: d.ship(h.address, ids, relayed=False))
            step(lambda: h.receive(second, ids, relayed=False))
            step(lambda: h.transact("dispense", [ids[:1], bytes(32)], items=1))
        except _Stopped:
            return

    def _lot_journey(
        self,
        team: dict[str, list[str]],
        lot: TrackedLot,
        rng: random.Random,
        pacer: _Pacer,
        stop: threading.Event,
    ) -> None:
        """A case and loose quantities of a lot-tracked product to a distributor (who may
        reject part of the loose quantity), a loose quantity on to a hospital, used there."""
        m = self.members[lot.maker]
        d = self.members[rng.choice(team["distributor"])]
        h = self.members[rng.choice(team["hospital"])]
        key = lot_key(lot.gtin, lot.lot)
        (serial,) = self._serials(1)
        case = item_id(unit_path(lot.case_gtin, serial))  # a case's id is its code's

        def step(action: Callable[[], T]) -> T:
            if not pacer.wait(stop):
                raise _Stopped
            result = action()
            self._count("writes")
            return result

        rejected = LOOSE // 10 if rng.random() < REJECT_CHANCE else 0
        to_hospital = rng.randrange(20, LOOSE // 2)
        try:
            step(lambda: m.transact("commissionLot", [key, lot.case_units + LOOSE]))
            step(lambda: m.transact("packCases", [lot.case_gtin, lot.lot, [serial]]))
            first = step(
                lambda: m.ship(d.address, [case], relayed=False, lots=[LotQuantity(key, LOOSE)])
            )
            rejects = [LotQuantity(key, rejected)] if rejected else []
            step(lambda: d.receive(first, [case], relayed=False, rejected_lots=rejects))
            loose = [LotQuantity(key, to_hospital)]
            second = step(lambda: d.ship(h.address, [], relayed=False, lots=loose))
            step(lambda: h.receive(second, [], relayed=False))
            used = [(key, rng.randrange(1, to_hospital))]
            step(lambda: h.transact("dispenseLots", [used, bytes(32)], items=1))
        except _Stopped:
            return

    def _scanner(self, pacer: _Pacer, stop: threading.Event) -> None:
        rng = random.Random()
        while pacer.wait(stop):
            with self._lock:
                udi = rng.choice(self.codes)
            code = udi.element_string() if rng.random() < 0.5 else udi.gs1_payload()
            phone = rng.choice(self.phones)
            try:
                answer = self.http.get(
                    "/v1/verify?code=" + quote(code, safe=""), headers={"X-API-Key": phone}
                )
                if answer.status_code == 200:
                    self._count("scans", answer.json()["verdict"])
                else:
                    self._count("failed_scans")
            except httpx.HTTPError:
                self._count("failed_scans")
                stop.wait(0.2)


@dataclass(frozen=True, slots=True)
class TrackedLot:
    """A lot of a lot-tracked product, with the product's case level."""

    gtin: str
    lot: str
    maker: str
    case_gtin: str
    case_units: int


def _lot_of(path: str) -> str | None:
    """The lot in a Digital Link path (None for an empty path: an older seed)."""
    return path.split("/10/")[1].split("/")[0] if "/10/" in path else None


def _makers(products: list[dict[str, Any]]) -> list[str]:
    """The maker slug of each seeded product, from its GTIN's company prefix."""
    prefixes = {o.prefix: o.slug for o in ORGANISATIONS if o.prefix}
    return [next(s for p, s in prefixes.items() if prod["gtin"][1:].startswith(p))
            for prod in products]  # fmt: skip
