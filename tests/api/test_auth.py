from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from eth_account.messages import encode_defunct
from sqlalchemy import select, update

from medledger.domain.chain import vault
from medledger.domain.store import api_store
from medledger.indexer.store.tables import challenges, custodial_keys
from medledger.sdk.ca import ConsortiumCA, certificate_to_pem
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import LicenceKind, Role
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv

partner = partner_env.partner


def _signed_challenge(partner: PartnerEnv, signer: Ledger, address: str) -> dict[str, str]:
    message = partner.api.client.post("/v1/auth/challenge", json={"address": address}).json()[
        "message"
    ]
    signature = signer.account.sign_message(encode_defunct(text=message)).signature
    return {"message": message, "signature": "0x" + signature.hex()}


def test_a_member_signs_in_with_a_signed_challenge_and_role_comes_from_the_chain(
    partner: PartnerEnv,
) -> None:
    headers = partner.login(partner.api.consortium.distributor)
    me = partner.api.client.get("/v1/auth/me", headers=headers)
    assert me.status_code == 200, me.text
    assert me.json() == {
        "address": partner.api.consortium.distributor.address,
        "role": "distributor",
        "organisation": "Jiangsu Medical Distribution",
        "method": "token",
    }


def test_the_challenge_is_an_eip4361_message_with_domain_nonce_and_expiry(
    partner: PartnerEnv,
) -> None:
    address = partner.api.consortium.hospital.address
    body = partner.api.client.post("/v1/auth/challenge", json={"address": address}).json()
    lines = body["message"].splitlines()
    assert lines[0] == "127.0.0.1:8000 wants you to sign in with your Ethereum account:"
    assert lines[1] == address
    fields = dict(line.split(": ", 1) for line in lines if ": " in line)
    assert len(fields["Nonce"]) == 48
    assert fields["Chain ID"] == str(partner.api.consortium.deployment.chain_id)
    assert {"Issued At", "Expiration Time", "URI", "Version"} <= fields.keys()


def test_a_replayed_challenge_is_refused(partner: PartnerEnv) -> None:
    ledger = partner.api.consortium.hospital
    signed = _signed_challenge(partner, ledger, ledger.address)
    assert partner.api.client.post("/v1/auth/token", json=signed).status_code == 200
    again = partner.api.client.post("/v1/auth/token", json=signed)
    assert again.status_code == 401
    assert again.json()["code"] == "challenge_used"


def test_an_expired_challenge_is_refused(partner: PartnerEnv) -> None:
    ledger = partner.api.consortium.hospital
    services = partner.api.services
    services.settings = services.settings.model_copy(update={"challenge_ttl_seconds": -1})
    signed = _signed_challenge(partner, ledger, ledger.address)
    response = partner.api.client.post("/v1/auth/token", json=signed)
    assert response.status_code == 401
    assert response.json()["code"] == "challenge_expired"


def test_a_challenge_signed_by_another_key_is_refused(partner: PartnerEnv) -> None:
    consortium = partner.api.consortium
    signed = _signed_challenge(partner, consortium.hospital2, consortium.hospital.address)
    response = partner.api.client.post("/v1/auth/token", json=signed)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_signature"


def test_a_message_the_api_never_issued_is_refused(partner: PartnerEnv) -> None:
    ledger = partner.api.consortium.hospital
    signed = _signed_challenge(partner, ledger, ledger.address)
    forged = signed["message"].replace("Version: 1", "Version: 2")
    signature = ledger.account.sign_message(encode_defunct(text=forged)).signature
    response = partner.api.client.post(
        "/v1/auth/token", json={"message": forged, "signature": "0x" + signature.hex()}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_challenge"


def test_a_non_member_cannot_sign_in(partner: PartnerEnv) -> None:
    stranger = partner.api.consortium.admin.as_member(partner.api.chain.accounts[9])
    signed = _signed_challenge(partner, stranger, stranger.address)
    response = partner.api.client.post("/v1/auth/token", json=signed)
    assert response.status_code == 403
    assert response.json()["code"] == "member_not_active"


def test_a_suspended_member_is_refused_at_sign_in_and_with_a_token_it_already_has(
    partner: PartnerEnv,
) -> None:
    consortium = partner.api.consortium
    headers = partner.login(consortium.distributor)
    consortium.regulator.suspend(consortium.distributor.address)
    me = partner.api.client.get("/v1/auth/me", headers=headers)
    assert me.status_code == 403
    assert me.json()["code"] == "member_not_active"
    signed = _signed_challenge(partner, consortium.distributor, consortium.distributor.address)
    assert partner.api.client.post("/v1/auth/token", json=signed).status_code == 403


def test_requests_without_or_with_a_tampered_token_are_unauthorized(partner: PartnerEnv) -> None:
    client = partner.api.client
    missing = client.get("/v1/auth/me")
    assert missing.status_code == 401
    assert missing.json()["code"] == "authentication_required"
    token = partner.login(partner.api.consortium.hospital)["Authorization"]
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    response = client.get("/v1/auth/me", headers={"Authorization": tampered})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_an_api_key_is_shown_once_stored_hashed_works_and_can_be_revoked(
    partner: PartnerEnv,
) -> None:
    client = partner.api.client
    headers = partner.login(partner.api.consortium.logistics)
    created = client.post("/v1/auth/api-keys", json={"label": "erp"}, headers=headers)
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    listed = client.get("/v1/auth/api-keys", headers=headers).json()
    assert [k["label"] for k in listed] == ["erp"]
    assert "key" not in listed[0]
    me = client.get("/v1/auth/me", headers={"X-API-Key": key})
    assert me.json()["method"] == "api_key"
    assert me.json()["role"] == "logistics"

    other = partner.login(partner.api.consortium.hospital)
    stolen = client.delete(f"/v1/auth/api-keys/{created.json()['id']}", headers=other)
    assert stolen.status_code == 404
    revoked = client.delete(f"/v1/auth/api-keys/{created.json()['id']}", headers=headers)
    assert revoked.status_code == 200
    refused = client.get("/v1/auth/me", headers={"X-API-Key": key})
    assert refused.status_code == 401
    assert refused.json()["code"] == "api_key_revoked"
    wrong = client.get("/v1/auth/me", headers={"X-API-Key": key[:-4] + "zzzz"})
    assert wrong.json()["code"] == "invalid_api_key"


def _certificate_env(partner: PartnerEnv, tmp_path: Path) -> ConsortiumCA:
    ca = ConsortiumCA.create("MedLedger Consortium CA")
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(certificate_to_pem(ca.certificate))
    services = partner.api.services
    services.settings = services.settings.model_copy(
        update={"ca_cert_file": ca_file, "client_cert_header": "X-Client-Cert"}
    )
    return ca


def _member_cert(ca: ConsortiumCA, ledger: Ledger, role: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = ca.issue_member(
        organisation="Ruijin Hospital",
        role=role,
        address=ledger.address,
        public_key=key.public_key(),
    )
    return quote(certificate_to_pem(cert))


def test_a_client_certificate_from_the_consortium_ca_signs_in(
    partner: PartnerEnv, tmp_path: Path
) -> None:
    ca = _certificate_env(partner, tmp_path)
    hospital = partner.api.consortium.hospital
    header = {"X-Client-Cert": _member_cert(ca, hospital, "HOSPITAL")}
    me = partner.api.client.get("/v1/auth/me", headers=header)
    assert me.status_code == 200, me.text
    assert me.json()["method"] == "certificate"
    assert me.json()["address"] == hospital.address


def test_a_certificate_and_a_challenge_signed_by_its_key_are_exchanged_for_a_token(
    partner: PartnerEnv, tmp_path: Path
) -> None:
    ca = _certificate_env(partner, tmp_path)
    hospital = partner.api.consortium.hospital
    key = ec.generate_private_key(ec.SECP256R1())
    pem = certificate_to_pem(
        ca.issue_member(
            organisation="Ruijin Hospital",
            role="HOSPITAL",
            address=hospital.address,
            public_key=key.public_key(),
        )
    )
    client = partner.api.client

    def exchange(signing_key: ec.EllipticCurvePrivateKey) -> Any:
        message = client.post("/v1/auth/challenge", json={"address": hospital.address}).json()[
            "message"
        ]
        signature = signing_key.sign(message.encode(), ec.ECDSA(hashes.SHA256()))
        body = {"certificate": pem, "message": message, "signature": "0x" + signature.hex()}
        return client.post("/v1/auth/certificate", json=body)

    token = exchange(key)
    assert token.status_code == 200, token.text
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert client.get("/v1/auth/me", headers=bearer).json()["role"] == "hospital"
    wrong_key = exchange(ec.generate_private_key(ec.SECP256R1()))
    assert wrong_key.status_code == 401
    assert wrong_key.json()["code"] == "invalid_signature"


def test_a_certificate_from_another_ca_is_refused(partner: PartnerEnv, tmp_path: Path) -> None:
    _certificate_env(partner, tmp_path)
    rogue = ConsortiumCA.create("Rogue CA")
    header = {"X-Client-Cert": _member_cert(rogue, partner.api.consortium.hospital, "HOSPITAL")}
    response = partner.api.client.get("/v1/auth/me", headers=header)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_certificate"


def test_a_regulator_creates_a_custodial_account_whose_key_is_encrypted_at_rest(
    partner: PartnerEnv,
) -> None:
    client = partner.api.client
    consortium = partner.api.consortium
    refused = client.post("/v1/auth/custodial-accounts", headers=partner.login(consortium.hospital))
    assert refused.status_code == 403
    created = client.post(
        "/v1/auth/custodial-accounts", headers=partner.login(consortium.regulator)
    )
    assert created.status_code == 201, created.text
    address = created.json()["address"]
    api_key = {"X-API-Key": created.json()["api_key"]["key"]}
    assert client.get("/v1/auth/me", headers=api_key).status_code == 403  # not admitted yet

    consortium.regulator.admit(address, Role.HOSPITAL, "Zhongshan Hospital")
    assert client.get("/v1/auth/me", headers=api_key).json()["organisation"] is None
    consortium.regulator.attest_licence(
        address,
        kind=LicenceKind.PRACTICE,
        number="licence 1",
        class_mask=14,
        valid_until=partner.api.chain.now() + 10**6,
    )
    nonce = client.get("/v1/partner/nonce", headers=api_key).json()
    assert nonce["has_custodial_key"] is True

    secret = bytes(vault(partner.api.services).get(address).key)
    with api_store(partner.api.services).engine.connect() as conn:
        stored = conn.execute(
            select(custodial_keys.c.ciphertext).where(custodial_keys.c.address == address)
        ).scalar_one()
    assert secret not in stored


def test_without_a_master_key_sign_in_is_a_503_naming_the_setting(partner: PartnerEnv) -> None:
    services = partner.api.services
    services.settings = services.settings.model_copy(update={"master_key": None})
    address = partner.api.consortium.hospital.address
    response = partner.api.client.post("/v1/auth/challenge", json={"address": address})
    assert response.status_code == 503
    assert response.json()["code"] == "master_key_missing"
    assert "MEDLEDGER_API_MASTER_KEY" in response.json()["detail"]


def test_the_master_key_may_be_provisioned_as_a_file_under_data_dir(partner: PartnerEnv) -> None:
    services = partner.api.services
    key = services.settings.master_key
    services.settings = services.settings.model_copy(update={"master_key": None})
    (services.settings.data_dir / "master-key.hex").write_text(key.get_secret_value() + "\n")
    me = partner.api.client.get(
        "/v1/auth/me", headers=partner.login(partner.api.consortium.hospital)
    )
    assert me.status_code == 200, me.text


def test_an_expired_token_is_refused(partner: PartnerEnv) -> None:
    services = partner.api.services
    services.settings = services.settings.model_copy(update={"token_ttl_seconds": -1})
    headers = partner.login(partner.api.consortium.hospital)
    response = partner.api.client.get("/v1/auth/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


def _spent(partner: PartnerEnv) -> list[str]:
    with api_store(partner.api.services).engine.connect() as conn:
        return [row[0] for row in conn.execute(select(challenges.c.nonce))]


def test_a_challenge_is_stored_only_once_it_is_redeemed_with_a_valid_signature(
    partner: PartnerEnv,
) -> None:
    consortium = partner.api.consortium
    for _ in range(5):
        asked = partner.api.client.post(
            "/v1/auth/challenge", json={"address": consortium.hospital.address}
        )
        assert asked.status_code == 200
    assert _spent(partner) == []
    wrong_key = _signed_challenge(partner, consortium.hospital2, consortium.hospital.address)
    assert partner.api.client.post("/v1/auth/token", json=wrong_key).status_code == 401
    assert _spent(partner) == []
    signed = _signed_challenge(partner, consortium.hospital, consortium.hospital.address)
    assert partner.api.client.post("/v1/auth/token", json=signed).status_code == 200
    assert len(_spent(partner)) == 1


def test_spent_challenges_are_dropped_once_expired(partner: PartnerEnv) -> None:
    hospital = partner.api.consortium.hospital
    partner.login(hospital)
    with api_store(partner.api.services).engine.begin() as conn:
        conn.execute(update(challenges).values(expires_at=1))
    partner.login(hospital)
    assert len(_spent(partner)) == 1


def test_a_challenge_edited_anywhere_or_for_another_address_is_refused(
    partner: PartnerEnv,
) -> None:
    consortium = partner.api.consortium
    message = _signed_challenge(partner, consortium.hospital, consortium.hospital.address)[
        "message"
    ]
    nonce = message.split("Nonce: ")[1][:48]
    edits = [
        message.replace(consortium.hospital.address, consortium.hospital2.address),
        message.replace(nonce, nonce[:47] + ("0" if nonce[47] != "0" else "1")),
        message.replace("Expiration Time: 2", "Expiration Time: 3"),
        message + "\n",
        "Nonce: " + nonce,
    ]
    for forged in edits:
        signer = (
            consortium.hospital2 if consortium.hospital2.address in forged else consortium.hospital
        )
        signature = signer.account.sign_message(encode_defunct(text=forged)).signature
        response = partner.api.client.post(
            "/v1/auth/token", json={"message": forged, "signature": "0x" + signature.hex()}
        )
        assert response.status_code == 401, forged
        assert response.json()["code"] == "invalid_challenge", forged


def test_sign_in_steps_are_throttled_per_client_address(partner: PartnerEnv) -> None:
    from medledger.web.members import SIGN_IN_STEPS_PER_MINUTE

    address = partner.api.consortium.hospital.address
    client = partner.api.client
    answers = [
        client.post("/v1/auth/challenge", json={"address": address}).status_code
        for _ in range(SIGN_IN_STEPS_PER_MINUTE)
    ]
    assert answers == [200] * SIGN_IN_STEPS_PER_MINUTE
    refused = client.post("/v1/auth/challenge", json={"address": address})
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    token = client.post("/v1/auth/token", json={"message": "x", "signature": "0x00"})
    assert token.status_code == 429


def test_a_member_holds_at_most_the_cap_of_api_keys_and_revoking_frees_a_place(
    partner: PartnerEnv,
) -> None:
    from medledger.domain.auth import MAX_ACTIVE_API_KEYS

    client = partner.api.client
    headers = partner.login(partner.api.consortium.logistics)
    ids = []
    for n in range(MAX_ACTIVE_API_KEYS):
        created = client.post("/v1/auth/api-keys", json={"label": f"k{n}"}, headers=headers)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    over = client.post("/v1/auth/api-keys", json={"label": "one more"}, headers=headers)
    assert over.status_code == 422
    assert over.json()["code"] == "api_key_limit"
    other = partner.login(partner.api.consortium.hospital)
    assert client.post("/v1/auth/api-keys", json={"label": "x"}, headers=other).status_code == 201
    assert client.delete(f"/v1/auth/api-keys/{ids[0]}", headers=headers).status_code == 200
    again = client.post("/v1/auth/api-keys", json={"label": "replacement"}, headers=headers)
    assert again.status_code == 201


def test_made_up_api_keys_on_partner_routes_spend_the_address_budget_not_a_lookup_each(
    partner: PartnerEnv,
) -> None:
    from medledger.web.members import API_KEY_LOOKUPS_PER_MINUTE

    client = partner.api.client
    headers = partner.login(partner.api.consortium.logistics)
    key = client.post("/v1/auth/api-keys", json={"label": "erp"}, headers=headers).json()["key"]
    assert client.get("/v1/auth/me", headers={"X-API-Key": key}).status_code == 200
    made_up = [f"mlk_{i:08x}_{'z' * 32}" for i in range(API_KEY_LOOKUPS_PER_MINUTE + 1)]
    codes = [
        client.get("/v1/partner/shipments", headers={"X-API-Key": k}).json()["code"]
        for k in made_up
    ]
    assert codes == ["invalid_api_key"] * API_KEY_LOOKUPS_PER_MINUTE + ["rate_limited"]
    refused = client.get("/v1/partner/shipments", headers={"X-API-Key": made_up[0]})
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    # A key seen valid costs the address nothing: it still works, and a revocation counts.
    assert client.get("/v1/auth/me", headers={"X-API-Key": key}).status_code == 200
    key_id = key.split("_")[1]
    assert client.delete(f"/v1/auth/api-keys/{key_id}", headers=headers).status_code == 200
    revoked = client.get("/v1/auth/me", headers={"X-API-Key": key})
    assert revoked.status_code == 401 and revoked.json()["code"] == "api_key_revoked"
