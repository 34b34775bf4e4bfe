from __future__ import annotations

import base64

from sqlalchemy import select

from medledger.domain.store import api_store
from medledger.indexer.store.tables import documents
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv

partner = partner_env.partner

NOTE = b"Delivery note DN-2026-0042: 2 x class III stents, 4.1-5.3 C"


def _upload(partner: PartnerEnv, uploader, counterparty, content: bytes = NOTE) -> dict:
    body = {
        "subject_id": "0x" + "ab" * 32,
        "kind": 1,
        "counterparty": counterparty.address,
        "filename": "delivery-note.txt",
        "content_type": "text/plain",
        "content_base64": base64.b64encode(content).decode(),
    }
    response = partner.api.client.post(
        "/v1/partner/documents", json=body, headers=partner.login(uploader)
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_a_document_is_encrypted_at_rest_and_its_salted_hash_anchored_on_chain(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    doc = _upload(partner, c.hospital2, c.distributor)
    assert doc["anchored_tx"] is not None
    anchor = c.regulator.anchor(bytes.fromhex(doc["document_hash"][2:]))
    assert anchor["anchored_by"] == c.hospital2.address
    with api_store(partner.api.services).engine.connect() as conn:
        stored = conn.execute(
            select(documents.c.ciphertext).where(documents.c.id == doc["id"])
        ).scalar_one()
    assert NOTE not in stored
    assert b"DN-2026" not in stored


def test_the_uploader_the_counterparty_and_the_regulator_read_the_document(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    doc = _upload(partner, c.hospital2, c.distributor)
    for reader in (c.hospital2, c.distributor, c.regulator):
        response = partner.api.client.get(
            f"/v1/partner/documents/{doc['id']}", headers=partner.login(reader)
        )
        assert response.status_code == 200, response.text
        assert base64.b64decode(response.json()["content_base64"]) == NOTE


def test_a_partner_never_sees_another_partners_documents(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    doc = _upload(partner, c.hospital2, c.manufacturer)
    client = partner.api.client
    headers = partner.login(c.distributor)
    response = client.get(f"/v1/partner/documents/{doc['id']}", headers=headers)
    assert response.status_code == 404
    assert response.json()["code"] == "document_not_found"
    assert client.get("/v1/partner/documents", headers=headers).json() == []
    listed = client.get("/v1/partner/documents", headers=partner.login(c.manufacturer)).json()
    assert [d["id"] for d in listed] == [doc["id"]]


def test_a_member_without_a_custodial_key_gets_the_hash_to_anchor_itself(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    doc = _upload(partner, c.logistics, c.hospital)
    assert doc["anchored_tx"] is None
    assert len(bytes.fromhex(doc["document_hash"][2:])) == 32


def test_the_same_content_uploaded_twice_gets_two_unrelated_hashes(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    first = _upload(partner, c.hospital, c.distributor)
    second = _upload(partner, c.hospital, c.distributor)
    assert first["document_hash"] != second["document_hash"]


def test_content_that_is_not_base64_is_a_clear_error(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    body = {"subject_id": "0x" + "ab" * 32, "kind": 1, "filename": "x", "content_base64": "QQ"}
    response = partner.api.client.post(
        "/v1/partner/documents", json=body, headers=partner.login(c.hospital)
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_base64"


def test_a_document_uploaded_as_multipart_reads_back_for_the_counterparty(
    partner: PartnerEnv,
) -> None:
    c = partner.api.consortium
    response = partner.api.client.post(
        "/v1/partner/documents/upload",
        data={"subject_id": "0x" + "cd" * 32, "kind": "2", "counterparty": c.hospital.address},
        files={"file": ("temps.csv", b"t,c\n0,4.2\n", "text/csv")},
        headers=partner.login(c.distributor),
    )
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == "temps.csv"
    assert response.json()["anchored_tx"] is not None
    read = partner.api.client.get(
        f"/v1/partner/documents/{response.json()['id']}", headers=partner.login(c.hospital)
    )
    assert base64.b64decode(read.json()["content_base64"]) == b"t,c\n0,4.2\n"
    assert read.json()["content_type"] == "text/csv"
