"""Approval files over HTTP (issue #16 item 1): a distributor sees a supplier's licence as
attested, approves it with the licence copy the supplier shared, and the sealed
qualification record behind the on-chain commitment is readable by exactly the
distributor, the supplier and the regulator; policy Refuse makes the ledger refuse an
unapproved supplier's shipment with the error naming it; files are private to their member.
"""

from __future__ import annotations

import base64

from medledger.domain import records
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv

partner = partner_env.partner

LICENCE_COPY = "%PDF-1.4 licence copy: 沪食药监械生产许20260001号".encode()


def _share_licence_copy(partner: PartnerEnv) -> str:
    c = partner.api.consortium
    body = {
        "subject_id": "0x" + bytes.fromhex(c.manufacturer.address[2:]).rjust(32, b"\0").hex(),
        "kind": 1,
        "counterparty": c.distributor.address,
        "filename": "licence.pdf",
        "content_type": "application/pdf",
        "content_base64": base64.b64encode(LICENCE_COPY).decode(),
    }
    response = partner.api.client.post(
        "/v1/partner/documents", json=body, headers=partner.login(c.manufacturer)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_a_distributor_approves_a_supplier_with_its_licence_copy(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    client = partner.api.client
    distributor = partner.login(c.distributor)
    partner.api.sync()
    licences = client.get(
        "/v1/partner/licences", params={"member": c.manufacturer.address}, headers=distributor
    )
    assert licences.status_code == 200, licences.text
    (licence,) = licences.json()
    assert licence["kind"] == "production"
    assert licence["number"].startswith("LIC-")
    doc_id = _share_licence_copy(partner)
    approved = client.post(
        "/v1/partner/qualification/suppliers",
        json={
            "counterparty": c.manufacturer.address,
            "documents": [{"document_id": doc_id, "kind": "licence"}],
            "note": "许可证、营业执照已核对",
            "decided_by": "王质量",
        },
        headers=distributor,
    )
    assert approved.status_code == 201, approved.text
    partner.api.sync()
    files = client.get("/v1/partner/qualification", headers=distributor).json()
    assert files["policy"] == "off"
    (entry,) = files["suppliers"]
    assert entry["supplier"] == c.manufacturer.address and entry["approved"]
    commitment = bytes.fromhex(entry["record_commitment"][2:])
    assert c.distributor.supplier_approval(c.distributor.address, c.manufacturer.address) == (
        commitment
    )
    services = partner.api.services
    for reader, regulator in (
        (c.distributor.address, False),
        (c.manufacturer.address, False),
        (c.regulator.address, True),
    ):
        view = records.by_commitment(services, commitment, reader=reader, regulator=regulator)
        assert view is not None
        assert view.body["decision"] == "approved"
        assert view.body["licences"][0]["number"] == licence["number"]
        assert view.body["documents"][0]["document_id"] == doc_id
        assert view.body["decided_by"] == "王质量"
    assert (
        records.by_commitment(services, commitment, reader=c.hospital.address, regulator=False)
        is None
    )


def test_refuse_policy_turns_an_unapproved_supplier_away(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    client = partner.api.client
    put = client.put(
        "/v1/partner/qualification/policy",
        json={"policy": "refuse"},
        headers=partner.login(c.distributor),
    )
    assert put.status_code == 200, put.text
    (unit,) = c.manufacturer.commission(c.lot_key, ["API-1"]).value
    shipped = client.post(
        "/v1/partner/shipments",
        json={"receiver": c.distributor.address, "item_ids": ["0x" + unit.hex()]},
        headers=partner.login(c.manufacturer),
    )
    assert shipped.status_code == 409, shipped.text
    assert shipped.json()["code"] == "ItemsSupplierNotApproved"


def test_files_are_private_to_their_member(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    client = partner.api.client
    other = client.get(
        "/v1/partner/qualification",
        params={"of": c.distributor.address},
        headers=partner.login(c.hospital),
    )
    assert other.status_code == 404, other.text
    regulator = partner.login(c.regulator)
    seen = client.get(
        "/v1/partner/qualification", params={"of": c.distributor.address}, headers=regulator
    )
    assert seen.status_code == 200, seen.text
    refused = client.put(
        "/v1/partner/qualification/policy", json={"policy": "hold"}, headers=regulator
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "qualification_traders_only"


def test_a_document_the_member_cannot_read_cannot_be_attached(partner: PartnerEnv) -> None:
    c = partner.api.consortium
    doc_id = _share_licence_copy(partner)  # shared with the distributor, not hospital2
    response = partner.api.client.post(
        "/v1/partner/qualification/suppliers",
        json={
            "counterparty": c.manufacturer.address,
            "documents": [{"document_id": doc_id, "kind": "licence"}],
        },
        headers=partner.login(c.hospital2),
    )
    assert response.status_code == 404, response.text
