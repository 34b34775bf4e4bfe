"""The short chaos soak: the real stack under signed traffic and hostile traffic, one
SIGKILL of each of the sequencer, the follower, an indexer, the API and the webhook
receiver, then every end-of-soak check (the webhooks': nothing lost, in order, signed)."""

from __future__ import annotations

from medledger.ops.hostile import CONNECTION_PAYLOADS, PAYLOADS
from medledger.ops.soak import RECEIVER, SoakPlan, run_soak


def test_short_soak_under_a_sigkill_of_each_process_and_hostile_traffic_loses_nothing():
    plan = SoakPlan(
        minutes=0.5,
        rate=6.0,
        fault_every=(3.0, 5.0),
        min_faults=5,
        down_for=(0.2, 1.0),
        seed=11,
        block_interval_ms=50,
        victims=("sequencer", "follower", "indexer", "api", RECEIVER),
        hostile_pause=1.0,
    )
    lines: list[str] = []
    result = run_soak(plan, echo=lines.append)
    figures = result["figures"]
    report = "\n".join(lines)
    assert figures["faults_injected"] >= 5, report
    assert set(figures["faults_by_process"]) == {
        "sequencer",
        "follower",
        "indexer",
        "api",
        RECEIVER,
    }
    assert figures["faults_survived"] == figures["faults_injected"], report
    assert figures["acknowledged_writes"] > 20, report
    for check in ("lost_transfers", "index_mismatches", "root_mismatches", "invariant_violations"):
        assert figures[check] == 0, report
    assert figures["unexpected_exits"] == 0, report
    # Two members' webhooks: every entitled event arrived, signed, in order, and repeated
    # at most once per kill of the API or the receiver (webhook_violations counts breaches).
    assert figures["webhook_events"] > 10, report
    assert figures["webhook_lost"] == 0, report
    assert figures["webhook_violations"] == 0, report
    kills = figures["faults_by_process"]["api"] + figures["faults_by_process"][RECEIVER]
    assert figures["webhook_repeats"] <= 2 * kills, report  # two subscriptions
    # Every hostile payload was sent; its 5xx answers are reported (the goal is none).
    assert set(figures["hostile_by_payload"]) == set(PAYLOADS + CONNECTION_PAYLOADS), report
    assert figures["hostile_requests"] >= 100, report
    assert figures["hostile_by_class"].get("error", 0) == 0, report  # the generator's own
    # Hostile input is refused, never answered with a 5xx, never left hanging, and never
    # turns a unit suspect for a member's genuine scan.
    assert figures["hostile_5xx"] == 0, report
    assert figures["hostile_held"] == 0, report
    assert figures["hostile_poisoned"] == 0, report
    assert lines[-1].startswith('{"suite": "soak", "figures": {')
