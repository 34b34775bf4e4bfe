"""`medledger bench e2e`: whole unit lifecycles through the HTTP API, the chain and the
indexer, with aggregated shipments.

The stack is `ops.stack` on free ports in a temporary directory: our node (sequencer and
the regulator's follower), both indexers (polling every 50 ms) and both APIs; with
`chain="anvil"`, anvil instead of our node, the suite put there with `engines.deploy`. The
demo consortium is enrolled, then `concurrency` workers take pallets through their life
(`ops/demo/e2e_lifecycle.py`: commission → pack → ship → receive → unpack → ship → receive
→ dispense, every step an HTTP request carrying the member's own signatures) until
`pallets` pallets are done.

Figures: lifecycle-complete units per second (units dispensed and visible in
`/v1/verify`, over the wall time of the whole run); API-submit → visible-in-verify latency
p50/p99 (commissioning → `genuine`, dispensing → `dispensed`); CPU (% of one core, with
children, and CPU milliseconds per unit) and peak memory of every process. On a shared
machine the wall-clock figures measure the neighbours too; CPU time per unit much less so,
hence `ceiling_lifecycles_per_s`: what that CPU time would allow on 2 idle cores. The last
line is `{"suite": "e2e", "figures": {...}}`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import HTTPProvider, Web3

from medledger.ops.bench.process_usage import UsageMonitor
from medledger.ops.demo.consortium import Consortium, bootstrap_consortium
from medledger.ops.demo.e2e_lifecycle import Cast, PalletLife, run_pallet
from medledger.ops.secrets import load_or_create_secrets
from medledger.ops.stack import Stack, StackConfig, start_stack
from medledger.runtime.supervisor import Supervisor
from medledger.sdk.compiler import ContractArtifact, load_artifacts
from medledger.sdk.deploy import Deployment

__all__ = ["FULL", "QUICK", "TINY", "E2eSizes", "bench_e2e"]


@dataclass(frozen=True, slots=True)
class E2eSizes:
    pallets: int
    units_per_pallet: int
    concurrency: int


FULL = E2eSizes(pallets=24, units_per_pallet=250, concurrency=6)
QUICK = E2eSizes(pallets=6, units_per_pallet=200, concurrency=3)
TINY = E2eSizes(pallets=2, units_per_pallet=3, concurrency=2)  # tests: it completes
CORES = 2  # the goal's machine


def _percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def _members() -> list[LocalAccount]:
    """Keys of the five demo members (manufacturer … hospital2) for this benchmark."""
    return [Account.from_key(keccak(text=f"medledger e2e member {i}")) for i in range(5)]


def _prepare_anvil(supervisor: Supervisor, data_dir: Path, echo: Callable[[str], None]) -> str:
    """anvil with the suite deployed by its first dev account, the stack's regulator
    admitted and funded, its relayer granted and funded; the deployment file written."""
    from medledger.engines.anvil import anvil_dev_accounts, start_anvil
    from medledger.engines.deploy import BootstrapPlan, bootstrap, connect, deploy_to_rpc

    url = start_anvil(supervisor)
    secrets = load_or_create_secrets(data_dir / "secrets")
    w3 = connect(url)
    deployer = anvil_dev_accounts(1)[0]
    deployment = deploy_to_rpc(w3, deployer)
    plan = BootstrapPlan(
        regulator=secrets.account("regulator").address,
        relayer=secrets.account("relayer").address,
        fund_wei=10**21,
    )
    bootstrap(w3, deployment, deployer, plan, echo=echo)
    deployment.save(data_dir / "deployment.json")
    return url


def _enrol(stack: Stack, admin: LocalAccount, artifacts: dict[str, ContractArtifact]) -> Consortium:
    w3 = Web3(HTTPProvider(stack.chain_rpc))
    members = _members()
    if int(w3.eth.gas_price):  # anvil: the members pay for their own transactions
        from medledger.engines.anvil import anvil_dev_accounts

        members = anvil_dev_accounts(6)[1:]
    return bootstrap_consortium(
        w3,
        [admin, stack.secrets.account("regulator"), *members],
        now=int(w3.eth.get_block("latest")["timestamp"]),
        artifacts=artifacts,
        deployment=Deployment.load(stack.deployment_file),
    )


def _run_pallets(cast: Cast, sizes: E2eSizes, echo: Callable[[str], None]) -> list[PalletLife]:
    """Every pallet's life, `concurrency` at a time; the first failure stops the run."""
    lives: list[PalletLife] = []
    with ThreadPoolExecutor(sizes.concurrency) as pool:
        futures = [
            pool.submit(run_pallet, cast, sizes.units_per_pallet, tag="B")
            for _ in range(sizes.pallets)
        ]
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                if future.exception() is not None:
                    for other in pending:
                        other.cancel()
                    raise RuntimeError(f"a lifecycle failed: {future.exception()}")
                lives.append(future.result())
            if len(lives) % max(1, sizes.pallets // 4) == 0 and lives:
                echo(f"  {len(lives)}/{sizes.pallets} pallets done")
    return lives


def _measure(
    stack: Stack,
    admin: LocalAccount,
    sizes: E2eSizes,
    echo: Callable[[str], None],
    *,
    engine_pids: dict[str, int],
    in_nonce_order: bool = False,
) -> dict[str, Any]:
    artifacts = load_artifacts()
    started = time.perf_counter()
    consortium = _enrol(stack, admin, artifacts)
    limits = httpx.Limits(max_connections=sizes.concurrency * 2 + 4)
    with httpx.Client(base_url=stack.partner_api, timeout=180, limits=limits) as http:
        cast = Cast.sign_in(consortium, http, artifacts, in_nonce_order=in_nonce_order)
        echo(f"consortium enrolled and signed in: {time.perf_counter() - started:.1f} s")
        pids = {name: stack.supervisor.pid(name) for name in stack.names()}
        pids |= engine_pids | {"bench-client": os.getpid()}
        with UsageMonitor(pids, alone=frozenset({"bench-client"})) as monitor:
            run_started = time.perf_counter()
            lives = _run_pallets(cast, sizes, echo)
            seconds = time.perf_counter() - run_started
    units = sum(len(life.units) for life in lives)
    freshness = [sample for life in lives for sample in life.freshness]
    figures: dict[str, Any] = {
        "lifecycles_per_s": round(units / seconds, 1),
        "freshness_p50_ms": round(_percentile(freshness, 0.5) * 1000, 1),
        "freshness_p99_ms": round(_percentile(freshness, 0.99) * 1000, 1),
        "freshness_samples": len(freshness),
        "units": units,
        "pallets": len(lives),
        "units_per_pallet": sizes.units_per_pallet,
        "concurrency": sizes.concurrency,
        "api_writes_per_s": round(9 * len(lives) / seconds, 1),
        "seconds": round(seconds, 2),
    }
    echo(
        f"{units:,} units through 8 custody steps in {seconds:.1f} s: "
        f"{figures['lifecycles_per_s']:,.1f} lifecycles/s; freshness p50 "
        f"{figures['freshness_p50_ms']:.0f} ms, p99 {figures['freshness_p99_ms']:.0f} ms "
        f"({len(freshness)} samples)"
    )
    per_unit: dict[str, float] = {}
    for usage in monitor.usage():
        per_unit[usage.name] = usage.cpu_percent / 100 * seconds * 1000 / units
        echo(
            f"  {usage.name:<18} cpu {usage.cpu_percent:6.1f} %  "
            f"{per_unit[usage.name]:6.2f} ms/unit   rss {usage.peak_rss_mb:7.1f} MB"
        )
        figures[f"cpu_percent_{usage.name}"] = round(usage.cpu_percent, 1)
        figures[f"cpu_ms_per_unit_{usage.name}"] = round(per_unit[usage.name], 3)
        figures[f"rss_mb_{usage.name}"] = round(usage.peak_rss_mb, 1)
    figures["ceiling_lifecycles_per_s"] = round(_ceiling(per_unit), 1)
    echo(
        f"CPU ceiling on {CORES} idle cores (from CPU time per unit, not measured): "
        f"{figures['ceiling_lifecycles_per_s']:,.1f} lifecycles/s"
    )
    return figures


def _ceiling(per_unit: dict[str, float]) -> float:
    """Lifecycles/s the measured CPU time per unit would allow on `CORES` idle cores: no
    process beyond one core (each is one Python interpreter, bound by its GIL), all of
    them together within `CORES`. The benchmark client is left out."""
    stack = {name: ms for name, ms in per_unit.items() if name != "bench-client" and ms > 0}
    if not stack:
        return 0.0
    return min(1000 / max(stack.values()), CORES * 1000 / sum(stack.values()))


def bench_e2e(
    sizes: E2eSizes,
    *,
    chain: str = "node",
    block_interval_ms: int = 100,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Start the stack, run the lifecycles, print the figures and the JSON line last."""
    if chain not in ("node", "anvil"):
        raise ValueError(f"chain must be 'node' or 'anvil', not {chain!r}")
    workdir = Path(tempfile.mkdtemp(prefix="medledger-bench-e2e-"))
    data_dir = workdir / "stack"
    config = replace(
        StackConfig.on_free_ports(data_dir),
        block_interval_ms=block_interval_ms,
        indexer_poll_interval=0.05,
        api_env={"MEDLEDGER_API_VERIFY_RATE_PER_MINUTE": str(10**9)},
    )
    try:
        with Supervisor(workdir / "logs") as engines:
            if chain == "anvil":
                url = _prepare_anvil(engines, data_dir, echo)
                config = replace(
                    config, chain_rpc_url=url, deployment_file=data_dir / "deployment.json"
                )
            started = time.perf_counter()
            with start_stack(config) as stack:
                echo(f"stack on {chain} up in {time.perf_counter() - started:.1f} s: "
                     f"{', '.join(stack.names())}")  # fmt: skip
                if chain == "anvil":
                    from medledger.engines.anvil import anvil_dev_accounts

                    admin = anvil_dev_accounts(1)[0]
                else:
                    admin = stack.secrets.account("admin")
                engine_pids = {name: engines.pid(name) for name in engines.names()}
                figures = _measure(
                    stack,
                    admin,
                    sizes,
                    echo,
                    engine_pids=engine_pids,
                    in_nonce_order=chain == "anvil",
                )
        figures["chain"] = chain
        figures["block_interval_ms"] = block_interval_ms if chain == "node" else 0
    finally:
        if not os.environ.get("MEDLEDGER_BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
    result = {"suite": "e2e", "figures": figures}
    echo(json.dumps(result))
    return result
