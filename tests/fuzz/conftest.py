"""Fuzz fixtures: the API apps of tests/api (the real app over the demo consortium on
eth-tester, with a real indexer database)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from medledger.app import create_app
from medledger.domain.services import Components
from tests.api.conftest import ApiEnv, api  # noqa: F401 - fixtures used by the API targets
from tests.api.partner_env import partner  # noqa: F401


@pytest.fixture
def unlimited(api: ApiEnv) -> TestClient:  # noqa: F811
    """The partner app with a verification budget no fuzz run uses up."""
    settings = api.services.settings.model_copy(update={"verify_rate_per_minute": 10**6})
    services = dataclasses.replace(api.services, settings=settings, components=Components())
    return TestClient(create_app(services))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Hypothesis describes a failing example with its fixtures too (the app, the node's
    genesis): a warning that it is long must not hide the failure under `-W error`."""
    here = Path(__file__).parent
    quiet = pytest.mark.filterwarnings("ignore:Generating overly large repr")
    for item in items:
        if here in item.path.parents:
            item.add_marker(quiet)
