"""Shared fixtures: the demo consortium on an in-process chain, reset for each test.

The consortium is bootstrapped once per session and each test starts from an eth-tester
snapshot of that state, so tests are isolated without paying for deployment each time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from medledger.engines.devchain import DevChain
from medledger.ops.demo.consortium import Consortium, bootstrap_consortium
from medledger.sdk.compiler import ContractArtifact, load_artifacts


@dataclass
class _Base:
    chain: DevChain
    consortium: Consortium
    snapshot: int


@pytest.fixture(scope="session")
def artifacts() -> dict[str, ContractArtifact]:
    return load_artifacts()


@pytest.fixture(scope="session")
def _base(artifacts: dict[str, ContractArtifact]) -> _Base:
    chain = DevChain.start(accounts=12)
    consortium = bootstrap_consortium(
        chain.w3, chain.accounts[:7], now=chain.now(), artifacts=artifacts
    )
    return _Base(chain, consortium, chain.tester.take_snapshot())


@pytest.fixture
def chain(_base: _Base) -> Iterator[DevChain]:
    """The session chain, rewound to just after the consortium bootstrap."""
    _base.chain.tester.revert_to_snapshot(_base.snapshot)
    yield _base.chain


@pytest.fixture
def consortium(chain: DevChain, _base: _Base) -> Consortium:
    """Admin, regulator, manufacturer, distributor, logistics, hospital and hospital2 (all
    licensed for classes I-III), the class III product DEMO_GTIN (storage 2.0-25.0 C) and
    its lot DEMO_LOT. `chain.accounts[7:]` are funded but not members."""
    return _base.consortium
