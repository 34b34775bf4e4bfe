"""Partner sign-in: EIP-4361 challenge → token, client certificate → token, API keys for
machine clients, and custodial accounts for portal users (created by a regulator).

A TLS-terminating proxy that verifies client certificates against the consortium CA passes
the certificate (URL-encoded PEM) in the header named by `MEDLEDGER_API_CLIENT_CERT_HEADER`
(e.g. nginx: `proxy_set_header X-Client-Cert $ssl_client_escaped_cert;`); the API verifies
it again with `sdk.ca.verify_member`. The proxy must strip that header from client requests.

The sign-in steps (challenge, token, certificate) cost the client address one of its
`api.auth.SIGN_IN_STEPS_PER_MINUTE` each (429 with Retry-After past it); issuing a
challenge writes nothing (`api.challenges`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from medledger.domain.api_examples import ADDRESS, example
from medledger.domain.auth import (
    ChallengeRequest,
    TokenRequest,
    api_keys_of,
    create_api_key,
    issue_challenge,
    issue_token,
    redeem_certificate_challenge,
    redeem_challenge,
    resolve_member,
)
from medledger.domain.auth import (
    revoke_api_key as revoke_member_key,
)
from medledger.domain.chain import vault
from medledger.domain.errors import Forbidden
from medledger.domain.partner_schemas import PROBLEMS, HexBytes
from medledger.web.deps import ServicesDep
from medledger.web.members import CurrentMember, throttle_sign_in

__all__ = ["router"]

router = APIRouter(prefix="/v1/auth", tags=["auth"], responses=PROBLEMS)


def _throttled(request: Request, services: ServicesDep) -> None:
    throttle_sign_in(services, request)


SignInStep = [Depends(_throttled)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChallengeOut(BaseModel):
    model_config = example(
        {
            "message": "localhost wants you to sign in with your Ethereum account:\n"
            + ADDRESS
            + "\n...",
            "expires_at": 1796550000,
        }
    )

    message: str
    expires_at: int


class CertificateTokenRequest(_Strict):
    model_config = example(
        {
            "certificate": "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n",
            "message": "localhost wants you to sign in ...",
            "signature": "0x3045" + "00" * 68,
        }
    )

    certificate: str = Field(max_length=16000, description="member certificate, PEM")
    message: str = Field(max_length=2000)
    signature: HexBytes


class TokenOut(BaseModel):
    model_config = example(
        {
            "access_token": "eyJhbGciOiJFZERTQSJ9...",
            "token_type": "bearer",
            "expires_at": 1796553600,
            "address": ADDRESS,
            "role": "distributor",
            "organisation": None,
        }
    )

    access_token: str
    token_type: str = "bearer"
    expires_at: int
    address: str
    role: str
    organisation: str | None


class MemberOut(BaseModel):
    model_config = example(
        {"address": ADDRESS, "role": "distributor", "organisation": None, "method": "api_key"}
    )

    address: str
    role: str
    organisation: str | None
    method: str


class ApiKeyRequest(_Strict):
    model_config = example({"label": "ERP integration (SAP, warehouse 2)"})

    label: str = Field(
        min_length=1, max_length=200, description="what the key is for, shown in key lists"
    )


class ApiKeyOut(BaseModel):
    model_config = example(
        {
            "id": "k_4f1c2a",
            "label": "ERP integration (SAP, warehouse 2)",
            "created_at": 1796550000,
            "revoked_at": None,
        }
    )

    id: str
    label: str
    created_at: int
    revoked_at: int | None = None


class ApiKeyCreated(ApiKeyOut):
    model_config = example(
        {
            "id": "k_4f1c2a",
            "label": "ERP integration (SAP, warehouse 2)",
            "created_at": 1796550000,
            "revoked_at": None,
            "key": "mlk_3J9x...shown-once",
        }
    )

    key: str = Field(description="shown once; only a hash is stored")


class CustodialAccountOut(BaseModel):
    model_config = example(
        {
            "address": ADDRESS,
            "api_key": {
                "id": "k_77aa01",
                "label": "custodial",
                "created_at": 1796550000,
                "revoked_at": None,
                "key": "mlk_Q2w...shown-once",
            },
        }
    )

    address: str
    api_key: ApiKeyCreated


@router.post("/challenge", response_model=ChallengeOut, dependencies=SignInStep)
def challenge(body: ChallengeRequest, services: ServicesDep) -> ChallengeOut:
    """An EIP-4361 message to sign with the member key (personal_sign)."""
    message, expires = issue_challenge(services, body.address)
    return ChallengeOut(message=message, expires_at=expires)


@router.post("/token", response_model=TokenOut, dependencies=SignInStep)
def token(body: TokenRequest, services: ServicesDep) -> TokenOut:
    """Exchange a signed challenge for a short-lived bearer token (active members only)."""
    address = redeem_challenge(services, body.message, body.signature)
    member = resolve_member(services, address, method="token")
    access, expires = issue_token(services, member.address, method="siwe")
    return TokenOut(
        access_token=access,
        expires_at=expires,
        address=member.address,
        role=member.role.name.lower(),
        organisation=member.organisation,
    )


@router.post("/certificate", response_model=TokenOut, dependencies=SignInStep)
def certificate(body: CertificateTokenRequest, services: ServicesDep) -> TokenOut:
    """Exchange a consortium client certificate and a challenge (POST /v1/auth/challenge
    for the certificate's address) signed by the certificate's key (ECDSA P-256/SHA-256,
    DER, hex) for a bearer token. Behind a TLS-terminating proxy the certificate header
    authenticates every request directly instead."""
    address = redeem_certificate_challenge(services, body.certificate, body.message, body.signature)
    member = resolve_member(services, address, method="certificate")
    access, expires = issue_token(services, member.address, method="x509")
    return TokenOut(
        access_token=access,
        expires_at=expires,
        address=member.address,
        role=member.role.name.lower(),
        organisation=member.organisation,
    )


@router.get("/me", response_model=MemberOut)
def me(member: CurrentMember) -> MemberOut:
    """Who the API thinks you are: address, and role and organisation from the chain."""
    return MemberOut(
        address=member.address,
        role=member.role.name.lower(),
        organisation=member.organisation,
        method=member.method,
    )


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201)
def new_api_key(body: ApiKeyRequest, member: CurrentMember, services: ServicesDep) -> ApiKeyCreated:
    """A new API key for a machine client of the signed-in member, shown once (a member
    holds at most `MAX_ACTIVE_API_KEYS` unrevoked keys: 422 `api_key_limit`)."""
    key_id, key, created = create_api_key(services, member.address, label=body.label)
    return ApiKeyCreated(id=key_id, label=body.label, created_at=created, key=key)


@router.get("/api-keys", response_model=list[ApiKeyOut])
def list_api_keys(member: CurrentMember, services: ServicesDep) -> list[ApiKeyOut]:
    return [
        ApiKeyOut(id=k.id, label=k.label, created_at=k.created_at, revoked_at=k.revoked_at)
        for k in api_keys_of(services, member.address)
    ]


@router.delete("/api-keys/{key_id}", response_model=ApiKeyOut)
def revoke_api_key(key_id: str, member: CurrentMember, services: ServicesDep) -> ApiKeyOut:
    """Revoke one of your own API keys (another member's key is simply not found)."""
    k = revoke_member_key(services, key_id, address=member.address)
    return ApiKeyOut(id=k.id, label=k.label, created_at=k.created_at, revoked_at=k.revoked_at)


@router.post("/custodial-accounts", response_model=CustodialAccountOut, status_code=201)
def new_custodial_account(member: CurrentMember, services: ServicesDep) -> CustodialAccountOut:
    """Regulator only: a member key generated and held (encrypted) by the platform for a
    portal user, and an API key for it. Admit the address on chain before it can act."""
    if not member.is_regulator:
        raise Forbidden("regulator_only", "only a regulator creates custodial accounts")
    account = vault(services).create()
    key_id, key, created = create_api_key(services, account.address, label="custodial")
    return CustodialAccountOut(
        address=account.address,
        api_key=ApiKeyCreated(id=key_id, label="custodial", created_at=created, key=key),
    )
