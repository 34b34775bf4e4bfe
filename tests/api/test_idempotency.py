"""Idempotency-Key on the partner API (`web.idempotency`): a retry gets the first answer
again and acts once; another request under the same key is a 422, a concurrent one a 409,
a malformed key a 400; a 5xx is not kept, a dead request's lease runs out; keys are per
principal and stored answers are sealed."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from web3 import HTTPProvider, Web3

from medledger.app import create_app
from medledger.domain.idempotency import LAST_PRUNE
from medledger.domain.services import Components
from medledger.domain.store import api_store
from medledger.indexer.store.tables import api_keys, idempotency
from medledger.runtime.supervisor import free_port
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv

partner = partner_env.partner

KEYS = "/v1/auth/api-keys"


def _key_count(partner: PartnerEnv) -> int:
    with api_store(partner.api.services).engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(api_keys)).scalar_one())


def _post(partner: PartnerEnv, key: str | bytes, body: dict[str, Any], **headers: str) -> Any:
    who = headers or partner.login(partner.api.consortium.distributor)
    return partner.api.client.post(KEYS, json=body, headers={**who, "Idempotency-Key": key})


def test_a_retry_gets_the_first_answer_byte_for_byte_and_acts_once(partner: PartnerEnv) -> None:
    before = _key_count(partner)
    first = _post(partner, "create-erp-key-1", {"label": "erp"})
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = _post(partner, "create-erp-key-1", {"label": "erp"})
    assert again.status_code == 201
    assert again.content == first.content  # the same secret, shown once, given again
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"]
    assert _key_count(partner) == before + 1
    # the same request without a key, or with another key, acts again
    assert _post(partner, "create-erp-key-2", {"label": "erp"}).json() != first.json()
    assert _key_count(partner) == before + 2


def test_a_structured_field_string_is_the_same_key_as_its_bare_text(partner: PartnerEnv) -> None:
    first = _post(partner, '"quoted-1"', {"label": "q"})
    again = _post(partner, "quoted-1", {"label": "q"})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content


def test_the_same_key_for_another_body_or_path_is_a_422(partner: PartnerEnv) -> None:
    assert _post(partner, "reused-1", {"label": "one"}).status_code == 201
    other = _post(partner, "reused-1", {"label": "two"})
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert other.headers["content-type"].startswith("application/problem+json")
    headers = {**partner.login(partner.api.consortium.distributor), "Idempotency-Key": "reused-1"}
    elsewhere = partner.api.client.post(f"{KEYS}?x=1", json={"label": "one"}, headers=headers)
    assert elsewhere.json()["code"] == "idempotency_key_reused"


MALFORMED = ["", '""', "x" * 256, "tab\there", "naïve".encode(), b"nul\x00", b"del\x7f"]


def test_a_malformed_key_is_a_400_and_nothing_is_done(partner: PartnerEnv) -> None:
    before = _key_count(partner)
    for key in MALFORMED:
        answer = _post(partner, key, {"label": "bad key"})
        assert answer.status_code == 400, (key, answer.text)
        assert answer.json()["code"] == "invalid_idempotency_key"
    assert _key_count(partner) == before
    who = partner.login(partner.api.consortium.distributor)
    headers = [*who.items(), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
    answer = partner.api.client.post(KEYS, json={"label": "two"}, headers=headers)
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_idempotency_key"
    key = "".join(chr(0x21 + i % 94) for i in range(255))  # the longest key is fine
    assert _post(partner, key, {"label": "long"}).status_code == 201
    assert _post(partner, key, {"label": "long"}).headers["idempotent-replayed"] == "true"


def test_keys_are_per_member_and_a_members_other_credentials_share_them(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    first = _post(partner, "shared-name", {"label": "mine"})
    theirs = _post(partner, "shared-name", {"label": "mine"}, **partner.login(c.hospital))
    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
    assert theirs.content != first.content
    # the distributor's own API key names the same member as its token: same answer
    by_key = _post(partner, "shared-name", {"label": "mine"}, **{"X-API-Key": first.json()["key"]})
    assert by_key.headers["idempotent-replayed"] == "true"
    assert by_key.content == first.content


def test_anonymous_routes_ignore_the_header(partner: PartnerEnv) -> None:
    address = partner.api.consortium.distributor.address
    client = partner.api.client
    headers = {"Idempotency-Key": "anon-1"}
    one = client.post("/v1/auth/challenge", json={"address": address}, headers=headers)
    two = client.post("/v1/auth/challenge", json={"address": address}, headers=headers)
    assert one.status_code == two.status_code == 200
    assert "idempotent-replayed" not in two.headers
    assert one.json()["message"] != two.json()["message"]  # each challenge is fresh


def test_a_request_without_valid_credentials_is_refused_not_replayed(partner: PartnerEnv) -> None:
    _post(partner, "creds-1", {"label": "c"})
    answer = _post(partner, "creds-1", {"label": "c"}, Authorization="Bearer nonsense")
    assert answer.status_code == 401
    assert "idempotent-replayed" not in answer.headers


def test_a_4xx_is_kept_and_replayed(partner: PartnerEnv) -> None:
    first = _post(partner, "bad-body-1", {"label": ""})
    assert first.status_code == 422 and first.json()["code"] == "invalid_request"
    again = _post(partner, "bad-body-1", {"label": ""})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content


def _rows(partner: PartnerEnv) -> list[Any]:
    with api_store(partner.api.services).engine.connect() as conn:
        return list(conn.execute(select(idempotency)).all())


def test_a_stored_answer_is_sealed_not_readable_in_the_store(partner: PartnerEnv) -> None:
    first = _post(partner, "sealed-1", {"label": "sealed"})
    secret = first.json()["key"].encode()
    (row,) = [r for r in _rows(partner) if r.key == "sealed-1"]
    assert row.status == 201 and row.answer is not None
    assert secret not in row.answer and b"sealed" not in row.answer
    assert row.principal == "member:" + partner.api.consortium.distributor.address.lower()


def test_a_dead_requests_lease_runs_out_and_the_retry_runs(partner: PartnerEnv) -> None:
    before = _key_count(partner)
    first = _post(partner, "lease-1", {"label": "lease"})
    engine = api_store(partner.api.services).engine
    # As if the API was killed mid-request: the row holds a lease and no answer.
    with engine.begin() as conn:
        conn.execute(
            update(idempotency)
            .where(idempotency.c.key == "lease-1")
            .values(
                status=None, answer=None, nonce=None, lease_until=int(time.time() * 1000) + 60_000
            )
        )
    busy = _post(partner, "lease-1", {"label": "lease"})
    assert busy.status_code == 409, busy.text
    assert busy.json()["code"] == "idempotency_key_in_flight"
    assert 1 <= int(busy.headers["retry-after"]) <= 60
    assert _post(partner, "lease-1", {"label": "other"}).json()["code"] == "idempotency_key_reused"
    with engine.begin() as conn:
        conn.execute(
            update(idempotency).where(idempotency.c.key == "lease-1").values(lease_until=0)
        )
    retried = _post(partner, "lease-1", {"label": "lease"})
    assert retried.status_code == 201 and "idempotent-replayed" not in retried.headers
    assert retried.json()["id"] != first.json()["id"]
    assert _key_count(partner) == before + 2
    assert _post(partner, "lease-1", {"label": "lease"}).content == retried.content


def test_an_expired_answer_is_pruned_and_the_key_may_be_used_again(partner: PartnerEnv) -> None:
    _post(partner, "old-1", {"label": "old"})
    engine = api_store(partner.api.services).engine
    with engine.begin() as conn:
        conn.execute(update(idempotency).where(idempotency.c.key == "old-1").values(expires_at=0))
    fresh = _post(partner, "old-1", {"label": "new body"})
    assert fresh.status_code == 201 and "idempotent-replayed" not in fresh.headers
    # Expired rows are pruned by the requests that come at least a minute after the last prune.
    _post(partner, "old-2", {"label": "old"})
    with engine.begin() as conn:
        conn.execute(update(idempotency).where(idempotency.c.key == "old-2").values(expires_at=0))
    partner.api.services.components.put(LAST_PRUNE, [0])
    _post(partner, "new-1", {"label": "new"})
    assert {r.key for r in _rows(partner)} == {"old-1", "new-1"}


def test_concurrent_requests_with_one_key_run_once_the_others_get_409(
    partner: PartnerEnv,
) -> None:
    before = _key_count(partner)
    who = partner.login(partner.api.consortium.distributor)
    answers: list[Any] = []
    gate = threading.Barrier(6)

    def send() -> None:
        gate.wait()
        answers.append(
            partner.api.client.post(
                KEYS, json={"label": "race"}, headers={**who, "Idempotency-Key": "race-1"}
            )
        )

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}, statuses
    ran = [a for a in answers if a.status_code == 201 and "idempotent-replayed" not in a.headers]
    assert len(ran) == 1, statuses  # the others were replayed or told it was in flight
    assert _key_count(partner) == before + 1
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["code"] == "idempotency_key_in_flight"
        else:
            assert answer.content == ran[0].content


def test_a_5xx_is_not_kept_and_the_retry_runs_again(partner: PartnerEnv) -> None:
    api_key = _post(partner, "make-a-key", {"label": "erp"}).json()["key"]
    dead = Web3(HTTPProvider(f"http://127.0.0.1:{free_port()}"))
    services = dataclasses.replace(partner.api.services, w3=dead, components=Components())
    offline = TestClient(create_app(services), raise_server_exceptions=False)
    body, headers = {"label": "while down"}, {"X-API-Key": api_key, "Idempotency-Key": "down-1"}
    for _ in range(2):
        answer = offline.post(KEYS, json=body, headers=headers)
        assert answer.status_code == 503 and answer.json()["code"] == "chain_unavailable"
        assert "idempotent-replayed" not in answer.headers
    assert not [r for r in _rows(partner) if r.key == "down-1"]
    up = partner.api.client.post(KEYS, json=body, headers=headers)
    assert up.status_code == 201 and "idempotent-replayed" not in up.headers


def test_an_answer_larger_than_the_store_keeps_is_sent_then_its_retry_is_a_422(
    partner: PartnerEnv,
) -> None:
    settings = partner.api.services.settings
    partner.api.services.settings = settings.model_copy(
        update={"idempotency_max_answer_bytes": 1024}
    )
    smuggled = {"label": "big", **{f"unknown_field_{i}": i for i in range(40)}}
    first = _post(partner, "big-1", smuggled)
    assert first.status_code == 422 and len(first.content) > 1024
    assert len(first.json()["errors"]) == 40  # sent whole
    again = _post(partner, "big-1", smuggled)
    assert again.status_code == 422
    assert again.json()["code"] == "idempotent_answer_not_kept"
    assert again.json()["first_status"] == 422
    (row,) = [r for r in _rows(partner) if r.key == "big-1"]
    assert (row.status, row.answer) == (422, None)
