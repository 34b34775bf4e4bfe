"""A regulator-mode client over the same services as the `api` fixture's partner app."""

from __future__ import annotations

import dataclasses

from fastapi.testclient import TestClient
from pydantic import SecretStr

from medledger.app import create_app
from medledger.domain.services import Components
from tests.api.conftest import ApiEnv

TOKEN = "regulator-staff-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def regulator_client(api: ApiEnv, **settings: object) -> TestClient:
    """The real app in regulator mode, signing as the consortium's regulator."""
    new_settings = api.services.settings.model_copy(
        update={"regulator": True, "regulator_api_token": SecretStr(TOKEN), **settings}
    )
    services = dataclasses.replace(api.services, settings=new_settings, components=Components())
    services.regulator_account = api.consortium.regulator.account
    return TestClient(create_app(services))
