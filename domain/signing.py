"""Ed25519 signatures over verification answers, checkable offline.

The API answers a verification with a body that *is* its canonical JSON (keys sorted, no
insignificant whitespace, UTF-8), and signs exactly those bytes with the platform key:

    X-MedLedger-Signature: base64url(Ed25519(private key, body bytes)), unpadded
    X-MedLedger-Key-Id:    the key's RFC 7638 JWK thumbprint

An app verifies an answer with nothing but the published public key (served as a JWK set
at ``/.well-known/medledger-verify-key``) and any Ed25519 library: it never needs to
re-serialise the JSON, only to check the signature over the raw body.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from typing import Any, Final

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "KEY_ID_HEADER",
    "SIGNATURE_HEADER",
    "b64url",
    "canonical_json",
    "key_id",
    "public_jwk",
    "sign",
    "signed_headers",
]

SIGNATURE_HEADER: Final = "X-MedLedger-Signature"
KEY_ID_HEADER: Final = "X-MedLedger-Key-Id"


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE writes keys and signatures."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def canonical_json(value: Any) -> bytes:
    """The one byte form of a JSON value that the API signs and sends: keys sorted, no
    whitespace, UTF-8 unescaped. Only for JSON-mode model dumps: orjson would write a
    non-finite float as null, and a verdict has no floats."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@functools.cache
def key_id(key: Ed25519PrivateKey) -> str:
    """RFC 7638 thumbprint of the public key's JWK (SHA-256, base64url)."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": b64url(_raw_public(key))}
    digest = hashlib.sha256(canonical_json(members)).digest()
    return b64url(digest)


def public_jwk(key: Ed25519PrivateKey) -> dict[str, str]:
    """The public half as a JWK (RFC 8037 OKP), with its key id."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url(_raw_public(key)),
        "kid": key_id(key),
        "alg": "EdDSA",
        "use": "sig",
    }


def sign(key: Ed25519PrivateKey, body: bytes) -> str:
    """Detached Ed25519 signature over `body`, base64url."""
    return b64url(key.sign(body))


def signed_headers(key: Ed25519PrivateKey, body: bytes) -> dict[str, str]:
    """The two response headers that let a client check `body` offline."""
    return {SIGNATURE_HEADER: sign(key, body), KEY_ID_HEADER: key_id(key)}
