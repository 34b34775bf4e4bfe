"""`medledger bench soak --minutes N`: chaos under simulated traffic, then proof nothing broke.

The whole stack (`ops.stack`) runs on free ports in a temporary directory, seeded with the
demo consortium, with `ops.simulate.Traffic` sending signed writes and verification scans.
Every few seconds one process, drawn at random (each of the sequencer, the follower, the
two indexers and the partner API once per shuffled round), is SIGKILLed, left down
briefly, and started again; the fault is survived when it answers `/healthz` again and the
traffic then gets a write through. Alongside, `ops.hostile` sends the hostile payloads
of issue 13 (bracket bombs, oversized bodies and batches, half-open connections, forged
far-away scans, bad sensor values and codes, sign-in guesses...) at both APIs and both
RPCs, counting answers by class (`hostile_requests`, `hostile_5xx`, ...). A webhook
receiver (`ops.webhook_sink`, a supervised process and one more victim) takes two members'
subscriptions to every event kind. At the end the traffic stops, the follower, the
indexers and the deliveries catch up, and `ops.soak_checks` checks acknowledged writes,
reindexes, roots, contract invariants and the webhooks (`webhook_events`,
`webhook_repeats`, `webhook_lost`). The last printed line is
`{"suite": "soak", "figures": {...}}`.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from web3 import HTTPProvider, Web3

from medledger.domain.events import EventKind
from medledger.ops import soak_checks
from medledger.ops.hostile import Hostile, HostileStats, HostileTargets
from medledger.ops.simulate import Traffic
from medledger.ops.soak_checks import WebhookReport, WebhookWatch
from medledger.ops.stack import Stack, StackConfig, start_stack
from medledger.ops.up import seed_stack, wait_indexed, write_urls
from medledger.runtime.supervisor import ProcessSpec, SupervisorError, free_port
from medledger.sdk.deploy import Deployment
from medledger.sdk.ledger import Ledger

__all__ = ["SoakPlan", "run_soak"]

RECEIVER = "webhook-receiver"
VICTIMS = ("sequencer", "follower", "indexer", "regulator-indexer", "api", RECEIVER)
# The members whose webhook subscriptions the soak watches (a maker and a distributor of
# the demo consortium: most of the traffic's events are theirs).
WEBHOOK_MEMBERS = ("chengrui", "ruitong")
# Retries soon and never dead-letters while the receiver is down; a killed API's lease
# frees in 2 s.
WEBHOOK_ENV = {
    "MEDLEDGER_API_WEBHOOK_ALLOW_PRIVATE_HTTP": "true",
    "MEDLEDGER_API_WEBHOOK_BASE_DELAY": "0.1",
    "MEDLEDGER_API_WEBHOOK_MAX_DELAY": "1",
    "MEDLEDGER_API_WEBHOOK_MAX_ATTEMPTS": "100",
    "MEDLEDGER_API_WEBHOOK_LEASE_SECONDS": "2",
}
WEBHOOK_CATCH_UP = 90.0  # seconds the deliveries may take to catch up at the end


@dataclass(frozen=True, slots=True)
class SoakPlan:
    minutes: float
    rate: float = 8.0  # traffic, ops/s
    fault_every: tuple[float, float] = (8.0, 16.0)  # seconds between faults
    down_for: tuple[float, float] = (0.2, 2.0)  # seconds a killed process stays down
    seed: int | None = None
    block_interval_ms: int = 150
    victims: tuple[str, ...] = VICTIMS
    min_faults: int = 0  # keep going past `minutes` until this many faults were injected
    hostile: bool = True  # hostile traffic (ops.hostile) alongside the honest traffic
    hostile_pause: float = 0.5  # seconds between two hostile payloads
    webhooks: bool = True  # a webhook receiver (a victim too) and two subscriptions


def _head(url: str) -> int:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
    answer = httpx.post(url, json=body, timeout=30).json()
    if "result" not in answer:
        raise SupervisorError(f"{url} answered eth_blockNumber with {answer.get('error')}")
    return int(answer["result"], 16)


_EVERY_KIND = [str(k) for k in EventKind]  # the soak subscribes to every kind


class _Chaos:
    def __init__(self, stack: Stack, traffic: Traffic, plan: SoakPlan, echo: Callable[[str], None]):
        self.stack, self.traffic, self.plan, self.echo = stack, traffic, plan, echo
        self.rng = random.Random(plan.seed)
        self.injected: Counter[str] = Counter()
        self.survived: Counter[str] = Counter()
        self.unexpected_exits: list[str] = []
        self._round: list[str] = []

    def _victim(self) -> str:
        if not self._round:
            self._round = list(self.plan.victims)
            self.rng.shuffle(self._round)
        return self._round.pop()

    def run(self, until: float, stop: threading.Event) -> None:
        sup = self.stack.supervisor
        while not stop.wait(self.rng.uniform(*self.plan.fault_every)):
            if time.monotonic() >= until and sum(self.injected.values()) >= self.plan.min_faults:
                return
            for name, code in sup.exited().items():  # a crash we did not cause
                self.unexpected_exits.append(f"{name} exited with {code}")
                self.echo(f"  ! {name} exited on its own with {code}; restarting it")
                sup.start(sup.spec(name))
            self.fault(self._victim())

    def fault(self, name: str) -> None:
        sup = self.stack.supervisor
        writes_before = self.traffic.stats.writes
        self.injected[name] += 1
        started = time.monotonic()
        sup.kill(name)
        time.sleep(self.rng.uniform(*self.plan.down_for))
        try:
            sup.start(sup.spec(name))
            deadline = time.monotonic() + 120
            while self.traffic.stats.writes <= writes_before:  # traffic flows again
                if time.monotonic() > deadline:
                    raise SupervisorError(f"no write got through within 120 s after {name}")
                time.sleep(0.1)
        except SupervisorError as exc:
            self.echo(f"  ✗ SIGKILL {name}: not survived: {exc}")
            return
        self.survived[name] += 1
        stats = self.traffic.stats
        self.echo(
            f"  ✓ SIGKILL {name:<17} back and serving in {time.monotonic() - started:4.1f} s "
            f"(writes {stats.writes}, failed {stats.failed_writes}: {stats.last_error[:200]})"
        )


def _settle(stack: Stack, echo: Callable[[str], None]) -> int:
    """Wait until the follower and both indexers have the sequencer's head; that head."""
    assert stack.sequencer_rpc is not None and stack.follower_rpc is not None
    head = _head(stack.sequencer_rpc)
    deadline = time.monotonic() + 180
    while _head(stack.follower_rpc) < head:
        if time.monotonic() > deadline:
            raise SupervisorError(f"the follower did not reach block {head}")
        time.sleep(0.2)
    wait_indexed(stack, timeout=180)
    echo(f"settled at block {head}")
    return head


class _HostileRun:
    """`ops.hostile` in a thread of its own, until the soak's `stop`."""

    def __init__(self, hostile: Hostile, stop: threading.Event, pause: float) -> None:
        self.hostile = hostile
        self.thread = threading.Thread(target=hostile.run, args=(stop,), kwargs={"pause": pause})
        self.thread.start()

    def join(self) -> HostileStats:
        self.thread.join()
        self.hostile.close()
        return self.hostile.stats


def _hostile(
    stack: Stack, traffic: Traffic, plan: SoakPlan, stop: threading.Event
) -> _HostileRun | None:
    if not plan.hostile:
        return None
    assert stack.sequencer_rpc is not None and stack.follower_rpc is not None
    targets = HostileTargets(
        api=stack.partner_api,
        regulator_api=stack.regulator_api,
        rpc=stack.sequencer_rpc,
        follower_rpc=stack.follower_rpc,
        data_dir=stack.config.data_dir,
    )
    hostile = Hostile(targets, check_key=traffic.phones[0], seed=plan.seed)
    return _HostileRun(hostile, stop, plan.hostile_pause)


class _Webhooks:
    """The supervised receiver, the watched subscriptions and, at the end, their report."""

    def __init__(self, stack: Stack, traffic: Traffic, workdir: Path) -> None:
        self.stack, self.log = stack, workdir / "webhooks.jsonl"
        port = free_port()
        argv = [sys.executable, "-m", "medledger.ops.webhook_sink", str(port), str(self.log)]
        health = f"http://127.0.0.1:{port}/healthz"
        stack.supervisor.start(ProcessSpec(RECEIVER, argv, health_url=health, health_timeout=30))
        self.watches: list[WebhookWatch] = []
        for slug in WEBHOOK_MEMBERS:
            member = traffic.members[slug]
            body = {"url": f"http://127.0.0.1:{port}/{slug}", "kinds": _EVERY_KIND}
            created = member.post("/v1/partner/subscriptions", body)
            address = member.ledger.account.address
            self.watches.append(
                WebhookWatch(f"/{slug}", address, created["secret"], created["cursor"])
            )

    def report(self, kills: int, echo: Callable[[str], None]) -> WebhookReport:
        """Wait (at most WEBHOOK_CATCH_UP s) until every entitled event arrived; check."""
        sup = self.stack.supervisor
        if not sup.is_running(RECEIVER):
            sup.start(sup.spec(RECEIVER))
        chain_id = Deployment.load(self.stack.deployment_file).chain_id
        deadline = time.monotonic() + WEBHOOK_CATCH_UP
        while True:
            lines = soak_checks.received(self.log)
            entitled = {
                w.path: soak_checks.entitled_seqs(self.stack.index_db_url, chain_id, w)
                for w in self.watches
            }
            report = soak_checks.webhook_report(lines, self.watches, entitled, kills)
            if not report.lost or time.monotonic() > deadline:
                echo(f"webhooks: {report.events} events, {report.repeats} repeats, "
                     f"{len(report.lost)} lost")  # fmt: skip
                return report
            time.sleep(0.5)


def _check(stack: Stack, traffic: Traffic, head: int, workdir: Path) -> dict[str, list[str]]:
    assert stack.sequencer_rpc is not None and stack.follower_rpc is not None
    deployment = Deployment.load(stack.deployment_file)
    fresh = soak_checks.reindex(stack.sequencer_rpc, deployment, workdir / "fresh.db")
    fresh_regulator = soak_checks.reindex(
        stack.follower_rpc, deployment, workdir / "fresh-regulator.db"
    )
    w3 = Web3(HTTPProvider(stack.sequencer_rpc, request_kwargs={"timeout": 60}))
    viewer = Ledger(w3, deployment, stack.secrets.account("regulator"))
    return {
        "lost_transfers": soak_checks.lost_transfers(stack.sequencer_rpc, traffic.acked),
        "index_mismatches": soak_checks.index_mismatches(stack.index_db_url, fresh)
        + soak_checks.index_mismatches(stack.regulator_index_db_url, fresh_regulator),
        "root_mismatches": soak_checks.root_mismatches(
            stack.sequencer_rpc, stack.follower_rpc, head
        ),
        "invariant_violations": soak_checks.invariant_violations(viewer, fresh),
    }


def run_soak(
    plan: SoakPlan, *, echo: Callable[[str], None] = print, keep: bool = False
) -> dict[str, Any]:
    """Run the soak; print the figures' JSON line last and return it."""
    workdir = Path(tempfile.mkdtemp(prefix="medledger-soak-"))
    # The hostile clients come as TEST-NET addresses through X-Forwarded-For, as if behind
    # a proxy on loopback, so their budgets are theirs and not the honest traffic's.
    api_env = {"MEDLEDGER_API_FORWARDED_ALLOW_IPS": "127.0.0.1"} if plan.hostile else {}
    config = replace(
        StackConfig.on_free_ports(workdir / "stack"),
        block_interval_ms=plan.block_interval_ms,
        api_env={**api_env, **(WEBHOOK_ENV if plan.webhooks else {})},
    )
    victims = plan.victims if plan.webhooks else tuple(v for v in plan.victims if v != RECEIVER)
    plan = replace(plan, victims=victims)
    stop = threading.Event()
    try:
        with start_stack(config) as stack:
            write_urls(stack)
            seed_stack(stack, echo)
            wait_indexed(stack)
            assert stack.sequencer_rpc is not None
            traffic = Traffic(
                api_url=stack.partner_api, rpc_url=stack.sequencer_rpc, data_dir=config.data_dir
            )
            webhooks = _Webhooks(stack, traffic, workdir) if plan.webhooks else None
            chaos = _Chaos(stack, traffic, plan, echo)
            low, high = plan.fault_every
            echo(f"soak: {plan.minutes:g} min of traffic at {plan.rate:g} ops/s with SIGKILLs "
                 f"every {low:g}-{high:g} s (logs: {workdir})")  # fmt: skip
            started = time.monotonic()
            until = started + plan.minutes * 60
            load = threading.Thread(
                target=traffic.run,
                kwargs={"rate": plan.rate, "stop": stop, "report": echo, "report_every": 15.0},
            )
            load.start()
            hostile = _hostile(stack, traffic, plan, stop)
            try:
                chaos.run(until, stop)
                while time.monotonic() < until and not stop.is_set():
                    time.sleep(0.2)
            finally:
                stop.set()
                load.join()
                traffic.close()
                hostile_stats = hostile.join() if hostile is not None else HostileStats()
            head = _settle(stack, echo)
            problems = _check(stack, traffic, head, workdir)
            kills = chaos.injected["api"] + chaos.injected[RECEIVER]
            hooks = webhooks.report(kills, echo) if webhooks is not None else WebhookReport()
            problems["webhook_violations"] = hooks.violations
            problems["webhook_lost"] = hooks.lost
        for name, found in problems.items():
            echo(f"{name}: {len(found)}" + "".join(f"\n  {p}" for p in found[:10]))
        if hostile is not None:
            errors = hostile_stats.server_errors
            spent = sorted(hostile_stats.seconds.items(), key=lambda item: -item[1])
            slowest = ", ".join(f"{p} {t:.1f} s" for p, t in spent[:5])
            echo(f"hostile: {hostile_stats.requests} requests, {dict(hostile_stats.by_class)}; "
                 f"slowest payloads: {slowest}"
                 + "".join(f"\n  5xx {e}" for e in errors[:10]))  # fmt: skip
        stats = traffic.stats
        figures: dict[str, Any] = {
            "minutes": plan.minutes,
            "faults_injected": sum(chaos.injected.values()),
            "faults_survived": sum(chaos.survived.values()),
            "lost_transfers": len(problems["lost_transfers"]),
            "index_mismatches": len(problems["index_mismatches"]),
            "root_mismatches": len(problems["root_mismatches"]),
            "invariant_violations": len(problems["invariant_violations"]),
            "unexpected_exits": len(chaos.unexpected_exits),
            "acknowledged_writes": len(traffic.acked),
            "failed_writes": stats.failed_writes,
            "scans": stats.scans,
            "blocks": head,
            "webhook_events": hooks.events,
            "webhook_repeats": hooks.repeats,
            "webhook_lost": len(hooks.lost),
            "webhook_violations": len(hooks.violations),
            "faults_by_process": dict(chaos.injected),
            **hostile_stats.figures(),
        }
    finally:
        stop.set()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    result = {"suite": "soak", "figures": figures}
    echo(json.dumps(result))
    return result
