"""The regulator's staff each call the regulator API with a personal key bound to their
user (`mls_…`): it opens the regulator routes, names the person in the audit trail, and a
revoked or unknown key is refused; with no shared token configured, nothing else opens
them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from medledger.domain import audit
from medledger.domain.auth import create_staff_key
from medledger.domain.store import api_store
from medledger.indexer.store.portal_users import revoke_staff_key
from medledger.portal.users import create_user
from tests.api.conftest import ApiEnv
from tests.api.regulator_mode import AUTH, regulator_client


@pytest.fixture
def reg(api: ApiEnv) -> TestClient:
    client = regulator_client(api, regulator_api_token=None)
    create_user(
        client.app.state.services,  # type: ignore[attr-defined]
        username="inspector.li",
        password="inspector-pass",
        address=api.consortium.regulator.address,
        display_name="李检查员",
        role="qa",
    )
    return client


def test_a_staff_key_opens_the_regulator_routes_and_names_its_user_in_the_trail(
    api: ApiEnv, reg: TestClient
) -> None:
    services = reg.app.state.services  # type: ignore[attr-defined]
    key_id, key = create_staff_key(services, "inspector.li", label="desk")
    assert key.startswith(f"mls_{key_id}_")
    members = reg.get("/v1/regulator/members", headers={"Authorization": f"Bearer {key}"})
    assert members.status_code == 200
    assert reg.get("/v1/regulator/members", headers={"X-API-Key": key}).status_code == 200
    hospital = api.consortium.hospital.address
    done = reg.post(
        f"/v1/regulator/members/{hospital}/reinstate", headers={"Authorization": f"Bearer {key}"}
    )
    assert done.status_code in (200, 409), done.text
    rows, _ = audit.entries(services, organisation=None, username="inspector.li")
    assert [(r.role, r.action, r.object, r.chain) for r in rows] == [
        (
            "qa",
            "POST /v1/regulator/members/{address}/reinstate",
            f"address={hospital}",
            api.consortium.regulator.address,
        )
    ]


def test_a_revoked_or_unknown_staff_key_and_the_old_shared_token_are_refused(
    reg: TestClient,
) -> None:
    services = reg.app.state.services  # type: ignore[attr-defined]
    key_id, key = create_staff_key(services, "inspector.li", label="laptop")
    revoke_staff_key(api_store(services).engine, key_id, username="inspector.li", now=1)
    for headers in (
        {"Authorization": f"Bearer {key}"},
        {"Authorization": f"Bearer mls_{key_id}_not-the-secret"},
        AUTH,  # the shared token, not configured here
        {},
    ):
        refused = reg.get("/v1/regulator/members", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json()["code"] in {
            "api_key_revoked",
            "invalid_api_key",
            "invalid_token",
            "authentication_required",
        }
