"""The supply-chain generator: sizes, determinism, encoding and forks."""

from __future__ import annotations

import pytest

from medledger.indexer.decode import LogDecoder
from medledger.ops.bench.supply_chain import GeneratorConfig, generate_synthetic
from medledger.sdk.deploy import CONTRACT_NAMES


@pytest.mark.parametrize(
    ("cfg", "expected"),
    [
        (GeneratorConfig(lots=4, units=10), [3, 3, 2, 2]),
        (GeneratorConfig(lots=3, units=1000, big_lot_units=900), [900, 50, 50]),
    ],
)
def test_lot_sizes_add_up_to_the_requested_units(cfg, expected):
    assert cfg.lot_sizes() == expected


def test_the_full_size_defaults_are_the_national_scenario():
    cfg = GeneratorConfig()
    assert (cfg.manufacturers, cfg.distributors, cfg.hospitals) == (10, 50, 500)
    assert (cfg.products, cfg.lots, cfg.units) == (100, 2000, 1_000_000)


def test_the_synthetic_stream_is_deterministic_for_a_seed(artifacts):
    cfg = GeneratorConfig.small(seed=3)
    one, _, _ = generate_synthetic(cfg, artifacts=artifacts)
    two, _, _ = generate_synthetic(cfg, artifacts=artifacts)
    other, _, _ = generate_synthetic(GeneratorConfig.small(seed=4), artifacts=artifacts)
    assert one.blocks == two.blocks
    assert one.blocks != other.blocks


def test_every_synthetic_log_decodes_and_every_unit_is_commissioned_once(artifacts):
    cfg = GeneratorConfig.small()
    chain, deployment, plan = generate_synthetic(cfg, artifacts=artifacts, logs_per_block=5)
    logs = chain.get_logs(1, chain.head(), [deployment.address_of(n) for n in CONTRACT_NAMES])
    events = LogDecoder(artifacts).decode_logs(logs)
    assert len(events) == len(logs)
    commissioned = [i for e in events if e.name == "ItemsCommissioned" for i in e.args["itemIds"]]
    units = [k for ids in plan.units.values() for k in ids]
    assert sorted(commissioned) == sorted(units)
    assert len(set(units)) == len(units) == cfg.units + cfg.units_per_case * cfg.reserve_cases
    names = {e.name for e in events}
    assert {"RecallOpened", "ItemsDestroyed", "ItemsReleased", "ItemsDispensed"} <= names
    received = [e for e in events if e.name == "ShipmentReceived"]
    assert any(e.args["rejectedIds"] for e in received)
    assert any(e.args["quarantined"] for e in received)


def test_a_fork_keeps_the_shared_prefix_and_rehashes_the_rest(artifacts):
    chain, _, _ = generate_synthetic(GeneratorConfig.small(), artifacts=artifacts)
    head = chain.head()
    fork = chain.fork(3, keep=head - 2)
    assert fork.head() == head
    assert fork.blocks[:3] == chain.blocks[:3]
    assert all(fork.block(n).hash != chain.block(n).hash for n in range(4, head + 1))
    assert fork.blocks[-1][1] == [] and chain.blocks[-1][1] != []
