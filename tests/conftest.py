"""Shared fixtures: a fresh in-process chain with the demo consortium for each test."""

from __future__ import annotations

import pytest

from scripts.consortium import Consortium, bootstrap_consortium
from sdk.compiler import ContractArtifact, load_artifacts
from sdk.devchain import DevChain


@pytest.fixture(scope="session")
def artifacts() -> dict[str, ContractArtifact]:
    return load_artifacts()


@pytest.fixture
def chain() -> DevChain:
    return DevChain.start(accounts=12)


@pytest.fixture
def consortium(chain: DevChain, artifacts: dict[str, ContractArtifact]) -> Consortium:
    """Admin, regulator, manufacturer, distributor, logistics, hospital and hospital2 (all
    licensed for classes I-III), the class III product DEMO_GTIN (storage 2.0-25.0 C) and
    its lot DEMO_LOT. `chain.accounts[7:]` are not members."""
    return bootstrap_consortium(chain.w3, chain.accounts[:7], now=chain.now(), artifacts=artifacts)
