"""Secrets the platform keeps for members: the master key, the keys derived from it, and
custodial member keys encrypted at rest.

The master key (`settings.master_key`, 32 bytes hex, no default) never encrypts data
directly: HKDF-SHA256 derives one sub-key per purpose (`custody`, `token`, and one
key-encryption key per document party), so a leak of one derived key exposes nothing else.
A custodial key is an Ethereum private key stored as AES-GCM ciphertext, with the member
address as associated data, so a row moved to another address fails to decrypt.
"""

from __future__ import annotations

import os
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from medledger.domain.errors import ApiError, NotConfigured
from medledger.domain.settings import ApiSettings
from medledger.indexer.store.custodial_keys import SealedKey, add_sealed_key, sealed_key
from medledger.indexer.store.engine import ApiStore

__all__ = ["CustodyVault", "derive_key", "master_key", "seal", "secret_setting", "unseal"]


MASTER_KEY_FILE = "master-key.hex"
RELAYER_KEY_FILE = "relayer-key.hex"


def secret_setting(settings: ApiSettings, name: str, filename: str) -> str | None:
    """A secret from its setting (MEDLEDGER_API_<NAME>) or else from `data_dir/filename`
    (never generated: the operator provisions it)."""
    value = getattr(settings, name)
    if value is not None:
        return str(value.get_secret_value()).strip()
    path = settings.data_dir / filename
    return path.read_text().strip() if path.is_file() else None


def master_key(settings: ApiSettings) -> bytes:
    """The configured 32-byte master key, or a 503 saying how to configure it."""
    value = secret_setting(settings, "master_key", MASTER_KEY_FILE)
    if value is None:
        raise NotConfigured(
            "master_key_missing",
            "set MEDLEDGER_API_MASTER_KEY (32 bytes hex) or write it to "
            f"{settings.data_dir / MASTER_KEY_FILE} to enable partner sign-in",
        )
    text = value.removeprefix("0x")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise NotConfigured("master_key_invalid", "MEDLEDGER_API_MASTER_KEY must be 64 hex digits")
    return key


def derive_key(master: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose, derived from the master key by HKDF-SHA256."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"medledger/" + purpose.encode()
    )
    return hkdf.derive(master)


def seal(key: bytes, plaintext: bytes, *, aad: bytes) -> tuple[bytes, bytes]:
    """AES-256-GCM encryption under a fresh 96-bit nonce; returns (nonce, ciphertext)."""
    nonce = os.urandom(12)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, nonce: bytes, ciphertext: bytes, *, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag as exc:
        raise NotConfigured(
            "ciphertext_unreadable",
            "stored ciphertext does not decrypt under the configured master key",
        ) from exc


class CustodyVault:
    """Custodial member keys, encrypted at rest under the `custody` sub-key."""

    def __init__(self, store: ApiStore, settings: ApiSettings) -> None:
        self._store = store
        self._key = derive_key(master_key(settings), "custody")

    def create(self) -> LocalAccount:
        """A new key held in custody; its address still has to be admitted on chain."""
        account: LocalAccount = Account.create()
        self.put(account)
        return account

    def put(self, account: LocalAccount) -> None:
        """Take an existing member key into custody."""
        address = to_checksum_address(account.address)
        nonce, ciphertext = seal(self._key, bytes(account.key), aad=address.encode())
        sealed = SealedKey(nonce, ciphertext)
        if not add_sealed_key(self._store.engine, address, sealed, now=int(time.time())):
            raise ApiError("custodial_key_exists", f"{address} already has a custodial key")

    def get(self, address: str) -> LocalAccount | None:
        address = to_checksum_address(address)
        sealed = sealed_key(self._store.engine, address)
        if sealed is None:
            return None
        secret = unseal(self._key, sealed.nonce, sealed.ciphertext, aad=address.encode())
        account: LocalAccount = Account.from_key(secret)
        return account
