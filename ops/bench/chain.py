"""`medledger bench chain`: signed custody transfers on our node and on anvil.

The same contracts, the same client (raw transactions over JSON-RPC, sent in pipelined
batches from pre-signed EIP-712 ship orders) and the same workloads on both chains:

- single-item shipments (tx/s, and p50/p99 submit→receipt at full load and at half of
  the measured maximum);
- 100-item shipments and pallet shipments (a container of 100 units; item-moves/s);
- shipments of realistic pallets, 8 cases of 50 units each (item-moves/s, its own figure);
- follower catch-up: a fresh follower re-verifies our node's whole chain (blocks/s).

Prints the figures; the last line is `{"suite": "chain", "figures": {...}}`.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from medledger.node.client import RpcClient
from medledger.node.config import NodeConfig, demo_genesis
from medledger.node.errors import MEMPOOL_FULL, RpcError

__all__ = ["run_chain_bench"]

REPO = Path(__file__).resolve().parents[2]
ANVIL = REPO / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
SEND_BATCH = 50
SEND_BYTES = 1 << 20
IN_FLIGHT = 3  # batches being sent at once; keeps the node's mempool fed
RECEIPT_BATCH = 200
POLL_INTERVAL = 0.02
CALL_REPEATS = 5


@dataclass(frozen=True, slots=True)
class Sizes:
    single: int
    multi: int
    pallets: int
    case_pallets: int
    per_shipment: int = 100
    cases_per_pallet: int = 8
    units_per_case: int = 50


# Setting up a pallet costs commissioning and packing every unit in it, so `--quick` ships
# few and its pallet figures are bounded by a block's latency; the full run ships enough
# pallets to fill many blocks (its setup takes minutes), so its pallet figures are
# throughput (see docs/BENCHMARKS.md).
QUICK = Sizes(single=500, multi=10, pallets=10, case_pallets=3)
FULL = Sizes(single=2000, multi=60, pallets=300, case_pallets=60)


@dataclass
class Workload:
    name: str
    raw: list[str]
    moves_per_tx: int


@dataclass
class RunResult:
    txs: int
    seconds: float
    latencies_ms: list[float]
    failed: int

    @property
    def tx_per_s(self) -> float:
        return self.txs / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    client = RpcClient(url, timeout=2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        try:
            client.call("eth_chainId")
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def _keys(n: int) -> list[LocalAccount]:
    return [Account.from_key(keccak(text=f"medledger bench member {i}")) for i in range(n)]


class _ReceiptPoller(threading.Thread):
    """Polls receipts of submitted transactions, oldest first, while sending goes on."""

    def __init__(self, url: str, expected: int) -> None:
        super().__init__(name="bench-receipts", daemon=True)
        self._client = RpcClient(url)
        self._lock = threading.Lock()
        self._pending: dict[str, float] = {}  # hash → when it was sent, in send order
        self._expected = expected
        self._halt = threading.Event()
        self.latencies_ms: list[float] = []
        self.failed = 0
        self.last_seen = 0.0

    def submitted(self, tx_hash: str, sent_at: float) -> None:
        with self._lock:
            self._pending[tx_hash] = sent_at

    def finish(self, timeout: float) -> None:
        self.join(timeout)
        self._halt.set()
        self.join()
        self._client.close()

    def run(self) -> None:
        while not self._halt.is_set() and len(self.latencies_ms) < self._expected:
            # Receipts arrive roughly in send order: ask for the oldest ones only, so
            # polling does not grow with the backlog and steal the node's CPU.
            with self._lock:
                chunk = list(itertools.islice(self._pending, RECEIPT_BATCH))
            if chunk:
                answers = self._client.batch([("eth_getTransactionReceipt", [h]) for h in chunk])
                now = time.monotonic()
                with self._lock:
                    for tx_hash, receipt in zip(chunk, answers, strict=True):
                        if isinstance(receipt, dict):
                            sent_at = self._pending.pop(tx_hash)
                            self.latencies_ms.append((now - sent_at) * 1000)
                            self.failed += receipt["status"] != "0x1"
                            self.last_seen = now
            self._halt.wait(POLL_INTERVAL)


def _chunks(raw: Sequence[str], count: int) -> Iterator[tuple[int, Sequence[str]]]:
    """(index of the first, chunk): at most `count` transactions and `SEND_BYTES` each,
    since anvil refuses large request bodies (a commission of 500 serials is ~60 kB)."""
    first = 0
    while first < len(raw):
        end, size = first, 0
        while end < len(raw) and end - first < count and (end == first or size < SEND_BYTES):
            size += len(raw[end])
            end += 1
        yield first, raw[first:end]
        first = end


def _send_and_wait(url: str, raw: Sequence[str], *, rate: float | None = None) -> RunResult:
    """Send pre-signed transactions in JSON-RPC batches over `IN_FLIGHT` connections at
    once (paced to `rate` tx/s if given) while receipts are polled concurrently, so the
    node never waits for the client. Latency is submit→receipt seen; tx/s counts receipts
    over the time from the first send to the last receipt."""
    poller = _ReceiptPoller(url, expected=len(raw))
    local = threading.local()
    clients: list[RpcClient] = []

    def send(chunk: Sequence[str]) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = RpcClient(url)
            clients.append(client)
        while chunk:
            sent_at = time.monotonic()
            answers = client.batch([("eth_sendRawTransaction", [r]) for r in chunk])
            retry = []
            for signed, answer in zip(chunk, answers, strict=True):
                if isinstance(answer, RpcError) and answer.code == MEMPOOL_FULL:
                    retry.append(signed)
                elif isinstance(answer, RpcError):
                    raise RuntimeError(f"{url} refused a benchmark transaction: {answer}")
                else:
                    poller.submitted(answer, sent_at)
            chunk = retry
            if retry:
                time.sleep(0.05)

    step = SEND_BATCH if rate is None else max(1, int(rate / 20))
    start = time.monotonic()
    poller.start()
    sent_all = False
    try:
        with ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="bench-send") as pool:
            sends = []
            for first, chunk in _chunks(raw, step):
                if rate is not None:
                    time.sleep(max(0.0, start + first / rate - time.monotonic()))
                sends.append(pool.submit(send, chunk))
            for sent in sends:
                sent.result()
        sent_all = True
    finally:
        poller.finish(timeout=300 if sent_all else 0)
        for client in clients:
            client.close()
    end = poller.last_seen or time.monotonic()
    return RunResult(len(poller.latencies_ms), end - start, poller.latencies_ms, poller.failed)


class Harness:
    """The demo consortium and pre-signed workloads on one chain."""

    def __init__(self, url: str, admin: LocalAccount, *, fund: bool) -> None:
        self.url = url
        self.w3 = Web3(Web3.HTTPProvider(url))
        self.client = RpcClient(url)
        members = _keys(7)
        accounts = [admin, *members[1:]]
        if fund:
            for account in accounts:
                self.client.call("anvil_setBalance", account.address, hex(10**24))
        self.chain_id = self.w3.eth.chain_id
        self.gas_price = int(self.w3.eth.gas_price) * 2
        self.accounts = accounts
        self.consortium: Any = None

    def admit_on_genesis_suite(self, config: NodeConfig) -> None:
        """Our node admits only members of its genesis Partners contract."""
        from medledger.sdk.deploy import Deployment
        from medledger.sdk.ledger import Ledger
        from medledger.sdk.model import Role

        deployment = Deployment(
            chain_id=config.chain_id,
            partners=config.contract_address("Partners"),
            devices=config.contract_address("Devices"),
            items=config.contract_address("Items"),
            records=config.contract_address("Records"),
        )
        admin = Ledger(self.w3, deployment, self.accounts[0])
        admin.admit(self.accounts[1].address, Role.REGULATOR, "Bench regulator")
        regulator = admin.as_member(self.accounts[1])
        for account in self.accounts[2:]:
            regulator.admit(account.address, Role.DISTRIBUTOR, "Bench member")

    def bootstrap(self) -> None:
        from medledger.ops.demo.consortium import bootstrap_consortium

        now = int(self.w3.eth.get_block("latest")["timestamp"])
        self.consortium = bootstrap_consortium(self.w3, self.accounts, now=now)

    def _pipeline(self, calls: Sequence[tuple[str, list[Any]]]) -> None:
        """Sign Items calls from the manufacturer and send them pipelined; wait for all."""
        m = self.consortium.manufacturer
        items = m._c["Items"]
        nonce = self.w3.eth.get_transaction_count(m.address, "pending")
        raw = []
        for i, (fn, args) in enumerate(calls):
            tx = {
                "chainId": self.chain_id,
                "nonce": nonce + i,
                "to": items.address,
                "data": items.encode_abi(fn, args),
                "gas": 30_000_000,  # the per-transaction cap (NodeConfig.max_tx_gas)
                "gasPrice": self.gas_price,
                "value": 0,
            }
            raw.append("0x" + bytes(m.account.sign_transaction(tx).raw_transaction).hex())
        result = _send_and_wait(self.url, raw)
        if result.failed or result.txs != len(raw):
            raise RuntimeError(f"benchmark setup failed on {self.url}: {result.failed} reverted")

    def call_figures(self, say: Callable[[str], None]) -> dict[str, float | None]:
        """Milliseconds per eth_estimateGas of commissioning 50 and 200 serials, and per
        eth_call of the 50 (the dry run every API write and SDK write makes): medians of
        `CALL_REPEATS`, each at the head of a chain already holding the workloads; None
        when the call was refused (past `call_time_budget_ms`)."""
        c = self.consortium
        m = c.manufacturer
        items = m._c["Items"]
        figures: dict[str, float | None] = {}
        for count in (50, 200):
            serials = [f"EST{count}-{i}" for i in range(count)]
            message = {
                "from": m.address,
                "to": items.address,
                "data": items.encode_abi("commission", [c.lot_key, serials]),
            }
            methods = ["eth_estimateGas"] + (["eth_call"] if count == 50 else [])
            for method in methods:
                times = []
                for _ in range(CALL_REPEATS):
                    started = time.perf_counter()
                    try:
                        self.client.call(method, message, "latest")
                    except RpcError:  # past the call time budget: no figure
                        break
                    times.append((time.perf_counter() - started) * 1000)
                kind = "estimate" if method == "eth_estimateGas" else "call"
                median = round(statistics.median(times), 1) if times else None
                figures[f"{kind}_ms_{count}_serials"] = median
        say(
            "  calls: estimate of 50 / 200 serials {estimate_ms_50_serials} / "
            "{estimate_ms_200_serials} ms, eth_call of 50 {call_ms_50_serials} ms".format(**figures)
        )
        return figures

    def commission(self, count: int, tag: str) -> list[bytes]:
        from medledger.sdk.gs1 import item_id, unit_path

        c = self.consortium
        serials = [f"{tag}{i}" for i in range(count)]
        chunks = [serials[i : i + 500] for i in range(0, count, 500)]
        self._pipeline([("commission", [c.lot_key, chunk]) for chunk in chunks])
        return [item_id(unit_path(c.gtin, s)) for s in serials]

    def _containers(self, count: int, first_serial: int) -> list[tuple[str, bytes]]:
        """New SSCCs (serial references from `first_serial`) and their item ids."""
        from medledger.sdk.gs1 import container_path, item_id, make_sscc

        prefix = self.consortium.prefix
        ssccs = [
            make_sscc(extension=1, company_prefix=prefix, serial_reference=first_serial + i)
            for i in range(count)
        ]
        return [(sscc, item_id(container_path(sscc))) for sscc in ssccs]

    def _pack_into(
        self, containers: Sequence[tuple[str, bytes]], contents: Sequence[bytes], per: int
    ) -> list[tuple[str, list[Any]]]:
        calls: list[tuple[str, list[Any]]] = []
        for i, (sscc, container) in enumerate(containers):
            calls.append(("createContainer", [sscc, self.consortium.prefix]))
            calls.append(("pack", [container, list(contents[i * per : (i + 1) * per])]))
        return calls

    def pallets(self, count: int, per: int) -> list[bytes]:
        units = self.commission(count * per, "P")
        pallets = self._containers(count, first_serial=1)
        self._pipeline(self._pack_into(pallets, units, per))
        return [pallet for _, pallet in pallets]

    def case_pallets(self, count: int, cases: int, per_case: int) -> list[bytes]:
        """Pallets of `cases` cases of `per_case` units each, packed case by case."""
        units = self.commission(count * cases * per_case, "R")
        case_boxes = self._containers(count * cases, first_serial=100_000)
        pallets = self._containers(count, first_serial=200_000)
        case_ids = [case for _, case in case_boxes]
        calls = self._pack_into(case_boxes, units, per_case)
        self._pipeline(calls + self._pack_into(pallets, case_ids, cases))
        return [pallet for _, pallet in pallets]

    def sign_ships(self, groups: Sequence[Sequence[bytes]]) -> list[str]:
        """Pre-signed ship transactions, manufacturer → distributor, one per group."""
        m, d = self.consortium.manufacturer, self.consortium.distributor
        items = m._c["Items"]
        order_nonce = m.nonce()
        tx_nonce = self.w3.eth.get_transaction_count(m.address, "pending")
        deadline = int(time.time()) + 3600
        raw = []
        gas = None
        for i, group in enumerate(groups):
            order, signature = m.sign_ship(
                d.address, list(group), nonce=order_nonce + i, deadline=deadline
            )
            data = items.encode_abi("ship", [order.as_tuple(), signature])
            if gas is None:
                call = {"from": m.address, "to": items.address, "data": data}
                gas = int(self.w3.eth.estimate_gas(call) * 1.5) + 50_000  # type: ignore[arg-type]
            tx = {
                "chainId": self.chain_id,
                "nonce": tx_nonce + i,
                "to": items.address,
                "data": data,
                "gas": gas,
                "gasPrice": self.gas_price,
                "value": 0,
            }
            raw.append("0x" + bytes(m.account.sign_transaction(tx).raw_transaction).hex())
        return raw


def _start_node(workdir: Path, config: NodeConfig) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    genesis = workdir / "genesis.json"
    config.save(genesis)
    log = (workdir / "node.log").open("ab")
    workdir.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "medledger.cli", "node", "--data-dir", str(workdir / "seq")]
    args += ["--genesis", str(genesis), "--rpc-port", str(port), "--engine", config.engine]
    proc = subprocess.Popen(args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    _wait(url, proc)
    return proc, url


def _start_anvil() -> tuple[subprocess.Popen[bytes], str]:
    if not ANVIL.exists():
        raise RuntimeError(f"anvil is not installed at {ANVIL}; run npm ci")
    port = _free_port()
    args = [str(ANVIL), "--port", str(port), "--silent", "--hardfork", "prague"]
    args += ["--gas-limit", "1000000000", "--prune-history", "64"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    _wait(url, proc)
    return proc, url


def _cpu_seconds(proc: subprocess.Popen[bytes]) -> Callable[[], tuple[float, float]]:
    """CPU time (user + system) used so far by the node process (the block maker) and by
    its children (the sequencer's RPC front, see `node.front`)."""
    import psutil

    process = psutil.Process(proc.pid)

    def seconds(p: psutil.Process) -> float:
        times = p.cpu_times()
        return float(times.user + times.system)

    def used() -> tuple[float, float]:
        children = process.children(recursive=True)
        return seconds(process), sum(seconds(child) for child in children)

    return used


def _measure(
    harness: Harness,
    sizes: Sizes,
    say: Callable[[str], None],
    cpu_seconds: Callable[[], tuple[float, float]] | None = None,
) -> dict[str, float]:
    started = time.monotonic()
    harness.bootstrap()
    per = sizes.per_shipment
    singles = harness.commission(sizes.single * 2, "S")
    multi = harness.commission(sizes.multi * per, "M")
    pallets = harness.pallets(sizes.pallets, per)
    cases, per_case = sizes.cases_per_pallet, sizes.units_per_case
    case_pallets = harness.case_pallets(sizes.case_pallets, cases, per_case)
    say(f"  setup: {time.monotonic() - started:.1f} s")
    single_ships = harness.sign_ships([[i] for i in singles[: sizes.single]])
    maker_before, front_before = cpu_seconds() if cpu_seconds else (0.0, 0.0)
    full = _send_and_wait(harness.url, single_ships)
    maker_after, front_after = cpu_seconds() if cpu_seconds else (0.0, 0.0)
    maker_ms = (maker_after - maker_before) * 1000 / max(full.txs, 1)
    front_ms = (front_after - front_before) * 1000 / max(full.txs, 1)
    say(
        f"  single-item: {full.tx_per_s:,.0f} tx/s, "
        f"p50 {full.pct(0.5):.0f} ms, p99 {full.pct(0.99):.0f} ms"
        + (
            f", node CPU per tx: {maker_ms:.1f} ms making blocks, {front_ms:.1f} ms in RPC"
            if cpu_seconds
            else ""
        )
    )
    half_rate = max(10.0, full.tx_per_s / 2)
    half = _send_and_wait(
        harness.url, harness.sign_ships([[i] for i in singles[sizes.single :]]), rate=half_rate
    )
    say(
        f"  at half load ({half_rate:,.0f} tx/s): "
        f"p50 {half.pct(0.5):.0f} ms, p99 {half.pct(0.99):.0f} ms"
    )
    groups = [multi[i * per : (i + 1) * per] for i in range(sizes.multi)]
    hundred = _send_and_wait(harness.url, harness.sign_ships(groups))
    say(f"  100-item: {hundred.tx_per_s * per:,.0f} item-moves/s")
    pallet = _send_and_wait(harness.url, harness.sign_ships([[p] for p in pallets]))
    say(f"  pallets of {per}: {pallet.tx_per_s * per:,.0f} item-moves/s")
    units = cases * per_case
    realistic = _send_and_wait(harness.url, harness.sign_ships([[p] for p in case_pallets]))
    say(
        f"  pallets of {cases} cases x {per_case} units: "
        f"{realistic.tx_per_s * units:,.0f} item-moves/s"
    )
    failed = full.failed + half.failed + hundred.failed + pallet.failed + realistic.failed
    if failed:
        raise RuntimeError(f"{failed} benchmark transactions reverted on {harness.url}")
    cpu_figure = (
        {
            "node_cpu_ms_per_single_item_tx": round(maker_ms + front_ms, 2),
            "node_block_maker_cpu_ms_per_single_item_tx": round(maker_ms, 2),
            "node_rpc_cpu_ms_per_single_item_tx": round(front_ms, 2),
        }
        if cpu_seconds
        else {}
    )
    return cpu_figure | {
        "single_item_tx_per_s": round(full.tx_per_s, 1),
        "item_moves_per_s": round(max(hundred.tx_per_s, pallet.tx_per_s) * per, 1),
        "hundred_item_moves_per_s": round(hundred.tx_per_s * per, 1),
        "pallet_item_moves_per_s": round(pallet.tx_per_s * per, 1),
        "case_pallet_item_moves_per_s": round(realistic.tx_per_s * units, 1),
        "p50_submit_to_receipt_ms": round(full.pct(0.5), 1),
        "p99_submit_to_receipt_ms_full_load": round(full.pct(0.99), 1),
        "p99_submit_to_receipt_ms": round(half.pct(0.99), 1),
        "p50_submit_to_receipt_ms_half_load": round(half.pct(0.5), 1),
    }


def _follower_catch_up(
    workdir: Path, config: NodeConfig, url: str
) -> tuple[float, float, float, float]:
    """A fresh follower, with its fetcher process as `medledger node --follow` runs it,
    re-verifies the whole chain: (blocks/s, transactions/s, the CPU seconds its own process
    used, those its fetcher used). With MEDLEDGER_BENCH_PROFILE=PATH, its re-execution is
    profiled (cProfile) into PATH.<engine>: where a block's CPU goes, without admission."""
    import cProfile

    import psutil

    from medledger.node.chain import Chain
    from medledger.node.fetcher import FetcherProcess
    from medledger.node.follower import Follower

    client = RpcClient(url)
    target = int(client.call("eth_blockNumber"), 16)
    client.close()
    chain = Chain(replace(config, data_dir=workdir / "follower"))
    follower = Follower(chain, url, fetch_process=True)
    assert isinstance(follower.fetcher, FetcherProcess)
    fetcher = psutil.Process(follower.fetcher.pid)
    profile_to = os.environ.get("MEDLEDGER_BENCH_PROFILE")
    profiler = cProfile.Profile() if profile_to else None
    start = time.monotonic()
    cpu_start = time.process_time()
    if profiler is not None:
        profiler.enable()
    while chain.head_number < target:
        follower.step()
        if follower.divergence:
            raise RuntimeError(f"follower diverged: {follower.divergence}")
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(f"{profile_to}.{config.engine}")
    seconds = time.monotonic() - start
    cpu = time.process_time() - cpu_start
    times = fetcher.cpu_times()
    fetcher_cpu = float(times.user + times.system)
    with chain.snapshot() as snap:
        from medledger.node.records import Reader

        reader = Reader(snap)
        txs = sum(len(reader.block_transaction_hashes(n)) for n in range(1, target + 1))
    follower.close()
    chain.close()
    if not seconds:
        return 0.0, 0.0, cpu, fetcher_cpu
    return target / seconds, txs / seconds, cpu, fetcher_cpu


def _measure_node(
    workdir: Path,
    config: NodeConfig,
    admin: LocalAccount,
    sizes: Sizes,
    say: Callable[[str], None],
    procs: list[subprocess.Popen[bytes]],
) -> dict[str, Any]:
    """The workloads on our node (engine `config.engine`), then a follower's catch-up."""
    proc, url = _start_node(workdir, config)
    procs.append(proc)
    say(f"medledger node ({config.engine}) at {url}")
    ours = Harness(url, admin, fund=False)
    ours.admit_on_genesis_suite(config)
    node_cpu = _cpu_seconds(proc)
    figures: dict[str, Any] = dict(_measure(ours, sizes, say, node_cpu))
    figures.update(ours.call_figures(say))
    sequencer_cpu = node_cpu()[0]
    caught_up = _follower_catch_up(workdir, config, url)
    blocks_per_s, txs_per_s, follower_cpu, fetcher_cpu = caught_up
    figures["follower_blocks_per_s"] = round(blocks_per_s, 1)
    figures["follower_tx_per_s"] = round(txs_per_s, 1)
    # The regulator's follower runs on its own machine: it keeps up when re-executing
    # the chain costs its process no more CPU than producing the chain cost the
    # sequencer's block maker. The fetcher, like the sequencer's RPC front, runs on the
    # other core.
    ratio = follower_cpu / max(sequencer_cpu, 1e-9)
    figures["follower_cpu_per_sequencer_cpu"] = round(ratio, 2)
    figures["follower_fetcher_cpu_s"] = round(fetcher_cpu, 1)
    say(
        f"  follower catch-up: {blocks_per_s:,.1f} blocks/s, {txs_per_s:,.0f} tx/s; "
        f"{follower_cpu:.1f} s of CPU (and {fetcher_cpu:.1f} s in its fetcher) to verify "
        f"what took the sequencer's block maker {sequencer_cpu:.1f} s to produce "
        f"({'keeps up' if ratio <= 1 else 'falls behind'})"
    )
    proc.terminate()  # the next engine's node gets the core
    proc.wait(timeout=20)
    return figures


def run_chain_bench(
    *, quick: bool, engines: Sequence[str] = ("revm",), say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Our node with each of `engines` (the first one's figures unprefixed, the others'
    prefixed with the engine's name), then anvil."""
    sizes = QUICK if quick else FULL
    workdir = Path(tempfile.mkdtemp(prefix="medledger-bench-"))
    admin = Account.from_key(keccak(text="medledger bench admin"))
    config = demo_genesis(bootstrap_admin=admin.address)
    config = replace(config, block_interval_ms=50, batch_size=500)
    figures: dict[str, Any] = {"load_average_at_start": round(os.getloadavg()[0], 1)}
    figures["engine"] = engines[0]
    say(f"load average {figures['load_average_at_start']}")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for index, engine in enumerate(engines):
            prefix = "" if index == 0 else f"{engine}_"
            ours_figures = _measure_node(
                workdir / engine, replace(config, engine=engine), admin, sizes, say, procs
            )
            figures.update({prefix + key: value for key, value in ours_figures.items()})
        anvil, anvil_url = _start_anvil()
        procs.append(anvil)
        say(f"anvil at {anvil_url}")
        theirs = Harness(anvil_url, admin, fund=True)
        other = _measure(theirs, sizes, say)
        figures["anvil_single_item_tx_per_s"] = other["single_item_tx_per_s"]
        figures["anvil_item_moves_per_s"] = other["item_moves_per_s"]
        figures["anvil_case_pallet_item_moves_per_s"] = other["case_pallet_item_moves_per_s"]
        figures["anvil_p99_submit_to_receipt_ms"] = other["p99_submit_to_receipt_ms"]
        for engine in engines[1:]:
            figures[f"{engine}_ratio_single_item_tx_per_s"] = round(
                figures[f"{engine}_single_item_tx_per_s"]
                / max(other["single_item_tx_per_s"], 1e-9),
                2,
            )
        figures["ratio_single_item_tx_per_s"] = round(
            figures["single_item_tx_per_s"] / max(other["single_item_tx_per_s"], 1e-9), 2
        )
        figures["ratio_item_moves_per_s"] = round(
            figures["item_moves_per_s"] / max(other["item_moves_per_s"], 1e-9), 2
        )
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not os.environ.get("MEDLEDGER_BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
    figures["load_average_at_end"] = round(os.getloadavg()[0], 1)
    result = {"suite": "chain", "figures": figures}
    say(json.dumps(result))
    return result
