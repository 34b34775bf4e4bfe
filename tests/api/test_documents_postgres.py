"""The partner API's own tables on PostgreSQL: sign-in, API keys, custodial signing and
encrypted documents through the real app, with `api_db_url` on a throwaway database."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from medledger.domain.chain import CUSTODY_VAULT, vault
from medledger.domain.store import API_STORE
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv

partner = partner_env.partner
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def pg_partner(partner: PartnerEnv) -> Iterator[PartnerEnv]:
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("PostgreSQL is not running")
    name = f"medledger_api_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    services = partner.api.services
    services.components.pop(API_STORE).dispose()  # type: ignore[union-attr]
    services.components.pop(CUSTODY_VAULT)
    services.settings = services.settings.model_copy(
        update={"api_db_url": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"}
    )
    for member in partner_env.CUSTODIAL:
        vault(services).put(partner.api.consortium.by_name(member).account)
    try:
        yield partner
    finally:
        services.components.pop(API_STORE).dispose()  # type: ignore[union-attr]
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_sign_in_api_keys_custodial_signing_and_documents_work_on_postgresql(
    pg_partner: PartnerEnv,
) -> None:
    c = pg_partner.api.consortium
    client = pg_partner.api.client
    headers = pg_partner.login(c.hospital)
    made = client.post("/v1/auth/api-keys", json={"label": "erp"}, headers=headers)
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    body = {
        "subject_id": "0x" + "ab" * 32,
        "kind": 1,
        "counterparty": c.distributor.address,
        "filename": "note.txt",
        "content_base64": base64.b64encode(b"inspection ok").decode(),
    }
    uploaded = client.post("/v1/partner/documents", json=body, headers={"X-API-Key": key})
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["anchored_tx"] is not None
    doc_id = uploaded.json()["id"]
    read = client.get(f"/v1/partner/documents/{doc_id}", headers=pg_partner.login(c.distributor))
    assert base64.b64decode(read.json()["content_base64"]) == b"inspection ok"
    denied = client.get(f"/v1/partner/documents/{doc_id}", headers=pg_partner.login(c.hospital2))
    assert denied.status_code == 404


def test_the_api_key_cap_holds_on_postgresql(pg_partner: PartnerEnv) -> None:
    from medledger.domain.auth import MAX_ACTIVE_API_KEYS

    client = pg_partner.api.client
    headers = pg_partner.login(pg_partner.api.consortium.distributor)
    for n in range(MAX_ACTIVE_API_KEYS):
        made = client.post("/v1/auth/api-keys", json={"label": f"k{n}"}, headers=headers)
        assert made.status_code == 201, made.text
    refused = client.post("/v1/auth/api-keys", json={"label": "one too many"}, headers=headers)
    assert refused.status_code == 422 and refused.json()["code"] == "api_key_limit"
