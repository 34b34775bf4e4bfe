"""Shared fixtures: the demo consortium on an in-process chain, reset for each test.

The consortium is bootstrapped once per session and each test starts from an eth-tester
snapshot of that state, so tests are isolated without paying for deployment each time.

`make test` runs the suite on two pytest-xdist workers (`-n 2 --dist loadgroup`):
`pytest_collection_modifyitems` puts each module in its own group, so a module's tests
run on one worker and its module-scoped fixtures are built once, and gives the tests that
share an expensive session fixture (`SHARED`) one group, so it is built on one worker only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from medledger.engines.devchain import DevChain
from medledger.indexer.config import Settings as IndexerSettings
from medledger.indexer.follower import Indexer
from medledger.indexer.source import Web3LogSource
from medledger.ops.demo.consortium import Consortium, bootstrap_consortium
from medledger.sdk.compiler import ContractArtifact, load_artifacts

# Session fixtures that start a whole stack or chain: every test using one runs on the same
# xdist worker (a second worker would start its own copy).
SHARED = {
    "target": "security-stack",
    "devchain_run": "indexer-chains",
    "anvil_run": "indexer-chains",
    "synthetic": "indexer-chains",
}


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the contracts in the xdist controller (or the only process) before any
    worker starts: two workers compiling a cold cache at once would write one temp file."""
    if not hasattr(session.config, "workerinput"):
        load_artifacts()


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        fixtures = getattr(item, "fixturenames", ())
        shared = sorted({SHARED[name] for name in fixtures if name in SHARED})
        group = shared[0] if shared else item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))


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


@pytest.fixture(scope="session")
def indexed_base(tmp_path_factory: pytest.TempPathFactory, _base: _Base) -> Path:
    """The read model of the bootstrapped consortium, indexed once per session (a SQLite
    file). Session fixtures are set up before a test's function fixtures, so rewinding the
    session chain here undoes nothing a test did."""
    path = tmp_path_factory.mktemp("indexed") / "medledger.indexer.db"
    _base.chain.tester.revert_to_snapshot(_base.snapshot)
    settings = IndexerSettings(f"sqlite:///{path}", batch_blocks=500)
    source = Web3LogSource(_base.chain.w3)
    with Indexer(settings, source, _base.consortium.deployment) as indexer:
        indexer.catch_up()
    return path


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
