"""Member signing keys held in encrypted Ethereum V3 keystores.

This module owns the on-disk form of a member's Ethereum key: creating a keystore
(atomically, mode 0600, never overwriting), decrypting it into an
:class:`eth_account.signers.local.LocalAccount`, reading its address without the
password, and :class:`KeyRing`, a directory of keystores named ``<label>.json``.

The default key-derivation function is scrypt with eth-keyfile's default work factor
(n = 2**18). ``kdf="pbkdf2"`` with a low ``iterations=`` exists so tests run quickly;
it must not be used for real keys.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any, Final, Literal

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_keys.constants import SECPK1_N
from eth_utils.address import is_hex_address, to_checksum_address

from medledger.sdk.errors import KeystoreError
from medledger.sdk.files import write_new_file

__all__ = [
    "KDF_CHOICES",
    "KeyRing",
    "create_keystore",
    "keystore_address",
    "load_key",
    "validate_label",
]

KDF_CHOICES: Final = ("scrypt", "pbkdf2")
"""Key-derivation functions a keystore may be written with."""

_LABEL_RE: Final = re.compile(r"[a-z0-9-]{1,40}")
_KEYSTORE_MODE: Final = 0o600
_KEYRING_MODE: Final = 0o700


def validate_label(label: str) -> str:
    """Return ``label`` if it is 1-40 characters of ``a-z``, ``0-9`` and ``-``."""
    if not isinstance(label, str) or _LABEL_RE.fullmatch(label) is None:
        raise KeystoreError(
            f"invalid key label {label!r}: use 1-40 characters from a-z, 0-9 and '-'"
        )
    return label


def create_keystore(
    path: Path,
    password: str,
    *,
    private_key: bytes | None = None,
    kdf: str = "scrypt",
    iterations: int | None = None,
    label: str | None = None,
) -> str:
    """Encrypt a member key into a new V3 keystore at ``path`` and return its address.

    A fresh secp256k1 key is generated unless ``private_key`` (32 bytes) is given.
    ``iterations`` is the KDF work factor (scrypt ``n``, a power of two, or pbkdf2
    ``c``); ``None`` keeps eth-keyfile's strong default. ``label``, if given, is
    recorded in the keystore's ``label`` field. The file is written to a temporary
    name, fsynced and linked into place with mode 0600; an existing ``path`` is
    never overwritten.
    """
    path = Path(path)
    if not password:
        raise KeystoreError(f"refusing to create keystore {path} with an empty password")
    kdf_name = _check_kdf(kdf, iterations)
    if label is not None:
        validate_label(label)
    if private_key is None:
        private_key = _random_private_key()
    else:
        _check_private_key(private_key)
    if path.exists():
        raise KeystoreError(f"keystore {path} already exists; refusing to overwrite it")
    if not path.parent.is_dir():
        raise KeystoreError(
            f"cannot create keystore {path}: directory {path.parent} does not exist"
        )

    document: dict[str, Any] = Account.encrypt(
        private_key, password, kdf=kdf_name, iterations=iterations
    )
    if label is not None:
        document["label"] = label
    address = to_checksum_address("0x" + str(document["address"]))
    _write_new_file(path, json.dumps(document, indent=2, sort_keys=True).encode() + b"\n")
    return address


def load_key(path: Path, password: str) -> LocalAccount:
    """Decrypt the keystore at ``path`` and return the account it holds."""
    path = Path(path)
    document = _read_keystore(path)
    try:
        private_key = Account.decrypt(document, password)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise KeystoreError(f"wrong password for keystore {path}") from None
        raise KeystoreError(f"cannot decrypt keystore {path}: {exc}") from exc
    except (KeyError, TypeError, AssertionError) as exc:
        raise KeystoreError(f"malformed keystore {path}: bad crypto parameters ({exc!r})") from exc
    account: LocalAccount = Account.from_key(private_key)
    recorded = document.get("address")
    if recorded is not None and _address_field(path, recorded) != account.address:
        raise KeystoreError(
            f"keystore {path} records address {_address_field(path, recorded)} "
            f"but its key belongs to {account.address}"
        )
    return account


def keystore_address(path: Path) -> str:
    """Return the checksum address recorded in the keystore at ``path``.

    The key is not decrypted, so this only reports what the file claims;
    :func:`load_key` checks the claim against the key.
    """
    path = Path(path)
    document = _read_keystore(path)
    if "address" not in document:
        raise KeystoreError(f"keystore {path} has no 'address' field")
    return _address_field(path, document["address"])


class KeyRing:
    """A directory of keystores, one per label, each stored as ``<label>.json``.

    ``kdf`` and ``iterations`` apply to keystores this ring creates (see
    :func:`create_keystore`). The directory is created with mode 0700 when needed.
    """

    def __init__(
        self, directory: Path, *, kdf: str = "scrypt", iterations: int | None = None
    ) -> None:
        self.directory = Path(directory)
        self.kdf = _check_kdf(kdf, iterations)
        self.iterations = iterations

    def path(self, label: str) -> Path:
        """Return where the keystore for ``label`` lives (it may not exist yet)."""
        return self.directory / f"{validate_label(label)}.json"

    def create(self, label: str, password: str, *, private_key: bytes | None = None) -> str:
        """Create the keystore for ``label`` and return its checksum address."""
        path = self.path(label)
        if path.exists():
            raise KeystoreError(f"key label {label!r} already exists in {self.directory}")
        self.directory.mkdir(mode=_KEYRING_MODE, parents=True, exist_ok=True)
        return create_keystore(
            path,
            password,
            private_key=private_key,
            kdf=self.kdf,
            iterations=self.iterations,
            label=label,
        )

    def load(self, label: str, password: str) -> LocalAccount:
        """Decrypt and return the account stored under ``label``."""
        return load_key(self._existing(label), password)

    def address(self, label: str) -> str:
        """Return the checksum address stored under ``label`` without decrypting."""
        return keystore_address(self._existing(label))

    def labels(self) -> list[str]:
        """Return the labels of the keystores in the directory, sorted."""
        if not self.directory.is_dir():
            return []
        return sorted(
            entry.stem
            for entry in self.directory.iterdir()
            if entry.suffix == ".json" and entry.is_file() and _LABEL_RE.fullmatch(entry.stem)
        )

    def __contains__(self, label: object) -> bool:
        return (
            isinstance(label, str)
            and _LABEL_RE.fullmatch(label) is not None
            and self.path(label).is_file()
        )

    def _existing(self, label: str) -> Path:
        path = self.path(label)
        if not path.is_file():
            raise KeystoreError(f"no keystore for label {label!r} in {self.directory}")
        return path


def _check_kdf(kdf: str, iterations: int | None) -> Literal["scrypt", "pbkdf2"]:
    if kdf == "scrypt":
        if iterations is not None and (iterations < 2 or iterations & (iterations - 1)):
            raise KeystoreError(
                f"scrypt iterations (n) must be a power of two >= 2, got {iterations}"
            )
        return "scrypt"
    if kdf == "pbkdf2":
        if iterations is not None and iterations < 1:
            raise KeystoreError(f"pbkdf2 iterations must be >= 1, got {iterations}")
        return "pbkdf2"
    raise KeystoreError(f"unknown kdf {kdf!r}; choose one of {', '.join(KDF_CHOICES)}")


def _random_private_key() -> bytes:
    while True:
        candidate = secrets.token_bytes(32)
        if 0 < int.from_bytes(candidate, "big") < SECPK1_N:
            return candidate


def _check_private_key(private_key: bytes) -> None:
    if not isinstance(private_key, bytes) or len(private_key) != 32:
        size = len(private_key) if isinstance(private_key, bytes) else type(private_key).__name__
        raise KeystoreError(f"private_key must be 32 bytes, got {size}")
    if not 0 < int.from_bytes(private_key, "big") < SECPK1_N:
        raise KeystoreError("private_key is outside the secp256k1 range 1..n-1")


def _read_keystore(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeystoreError(f"keystore {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeystoreError(f"cannot read keystore {path}: {exc}") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeystoreError(
            f"keystore {path} is not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(document, dict):
        raise KeystoreError(f"keystore {path} must hold a JSON object")
    if document.get("version") != 3:
        raise KeystoreError(
            f"keystore {path} has version {document.get('version')!r}; only version 3 is supported"
        )
    crypto = document.get("crypto", document.get("Crypto"))
    if not isinstance(crypto, dict):
        raise KeystoreError(f"keystore {path} has no 'crypto' object")
    for field in ("cipher", "cipherparams", "ciphertext", "kdf", "kdfparams", "mac"):
        if field not in crypto:
            raise KeystoreError(f"keystore {path} is missing field 'crypto.{field}'")
    if crypto["kdf"] not in KDF_CHOICES:
        raise KeystoreError(f"keystore {path} uses unsupported kdf {crypto['kdf']!r}")
    if crypto["cipher"] != "aes-128-ctr":
        raise KeystoreError(f"keystore {path} uses unsupported cipher {crypto['cipher']!r}")
    return document


def _address_field(path: Path, value: object) -> str:
    if not isinstance(value, str):
        raise KeystoreError(f"keystore {path} has a non-string 'address' field")
    candidate = value if value.lower().startswith("0x") else "0x" + value
    if not is_hex_address(candidate):
        raise KeystoreError(f"keystore {path} has an invalid 'address' field {value!r}")
    return to_checksum_address(candidate)


def _write_new_file(path: Path, data: bytes) -> None:
    try:
        write_new_file(path, data, mode=_KEYSTORE_MODE)
    except FileExistsError:
        raise KeystoreError(f"keystore {path} already exists; refusing to overwrite it") from None
