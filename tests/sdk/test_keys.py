"""Tests for sdk.keys: encrypted member keystores and the KeyRing directory."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from medledger.sdk import keys
from medledger.sdk.errors import KeystoreError
from medledger.sdk.keys import KeyRing, create_keystore, keystore_address, load_key

FAST: dict[str, Any] = {"kdf": "pbkdf2", "iterations": 2}
PRIVATE_KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
PRIVATE_KEY_ADDRESS = Account.from_key(PRIVATE_KEY).address


@pytest.fixture
def umask_zero() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_created_keystore_loads_back_to_the_same_account(tmp_path: Path) -> None:
    path = tmp_path / "member.json"

    address = create_keystore(path, "s3cret", **FAST)
    account = load_key(path, "s3cret")

    assert account.address == address
    assert address == Account.from_key(account.key).address
    assert keystore_address(path) == address


def test_a_given_private_key_is_stored_and_its_address_returned(tmp_path: Path) -> None:
    path = tmp_path / "member.json"

    address = create_keystore(path, "s3cret", private_key=PRIVATE_KEY, **FAST)

    assert address == PRIVATE_KEY_ADDRESS
    assert bytes(load_key(path, "s3cret").key) == PRIVATE_KEY


def test_keystore_is_standard_v3_json_and_does_not_contain_the_key(tmp_path: Path) -> None:
    path = tmp_path / "member.json"
    create_keystore(path, "s3cret", private_key=PRIVATE_KEY, label="acme-hospital", **FAST)

    text = path.read_text()
    document = json.loads(text)

    assert document["version"] == 3
    assert document["crypto"]["cipher"] == "aes-128-ctr"
    assert document["crypto"]["kdf"] == "pbkdf2"
    assert document["crypto"]["kdfparams"]["c"] == 2
    assert document["label"] == "acme-hospital"
    assert PRIVATE_KEY.hex() not in text.lower()
    assert Account.decrypt(document, "s3cret") == PRIVATE_KEY


def test_default_kdf_is_scrypt_with_a_strong_work_factor(tmp_path: Path) -> None:
    path = tmp_path / "member.json"

    create_keystore(path, "s3cret")

    kdfparams = json.loads(path.read_text())["crypto"]["kdfparams"]
    assert json.loads(path.read_text())["crypto"]["kdf"] == "scrypt"
    assert kdfparams["n"] >= 2**18


def test_wrong_password_is_reported_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "member.json"
    create_keystore(path, "s3cret", **FAST)

    with pytest.raises(KeystoreError, match=f"wrong password for keystore {path}"):
        load_key(path, "guess")


def test_existing_keystore_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "member.json"
    first = create_keystore(path, "s3cret", **FAST)
    before = path.read_bytes()

    with pytest.raises(KeystoreError, match="already exists"):
        create_keystore(path, "other", **FAST)

    assert path.read_bytes() == before
    assert load_key(path, "s3cret").address == first


def test_a_file_appearing_during_creation_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "member.json"
    real_encrypt = Account.encrypt

    def encrypt_then_race(*args: Any, **kwargs: Any) -> dict[str, Any]:
        path.write_text("someone else's keystore")
        return real_encrypt(*args, **kwargs)

    monkeypatch.setattr(Account, "encrypt", encrypt_then_race)

    with pytest.raises(KeystoreError, match="already exists"):
        create_keystore(path, "s3cret", **FAST)

    assert path.read_text() == "someone else's keystore"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["member.json"]


@pytest.mark.usefixtures("umask_zero")
def test_keystore_file_mode_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    path = tmp_path / "member.json"

    create_keystore(path, "s3cret", **FAST)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_creation_leaves_no_temporary_files(tmp_path: Path) -> None:
    create_keystore(tmp_path / "member.json", "s3cret", **FAST)

    assert [p.name for p in tmp_path.iterdir()] == ["member.json"]


def test_missing_directory_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "member.json"

    with pytest.raises(KeystoreError, match="does not exist"):
        create_keystore(path, "s3cret", **FAST)


def test_empty_password_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="empty password"):
        create_keystore(tmp_path / "member.json", "", **FAST)
    assert not (tmp_path / "member.json").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kdf": "argon2"}, "unknown kdf 'argon2'"),
        ({"kdf": "scrypt", "iterations": 1000}, "power of two"),
        ({"kdf": "pbkdf2", "iterations": 0}, "pbkdf2 iterations must be >= 1"),
        ({"kdf": "pbkdf2", "private_key": b"\x01" * 31}, "32 bytes, got 31"),
        ({"kdf": "pbkdf2", "private_key": b"\x00" * 32}, "secp256k1 range"),
        ({"kdf": "pbkdf2", "label": "Not Valid"}, "invalid key label"),
    ],
)
def test_bad_creation_options_are_rejected_before_writing(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    path = tmp_path / "member.json"

    with pytest.raises(KeystoreError, match=message):
        create_keystore(path, "s3cret", **options)

    assert not path.exists()


def test_malformed_json_is_reported_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")

    with pytest.raises(KeystoreError, match=f"keystore {path} is not valid JSON"):
        load_key(path, "s3cret")
    with pytest.raises(KeystoreError, match=str(path)):
        keystore_address(path)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("crypto"), "has no 'crypto' object"),
        (lambda d: d["crypto"].pop("mac"), "missing field 'crypto.mac'"),
        (lambda d: d.__setitem__("version", 4), "version 4"),
        (lambda d: d["crypto"].__setitem__("kdf", "argon2"), "unsupported kdf 'argon2'"),
    ],
)
def test_structurally_broken_keystore_names_the_missing_part(
    tmp_path: Path, mutate: Any, message: str
) -> None:
    path = tmp_path / "member.json"
    create_keystore(path, "s3cret", **FAST)
    document = json.loads(path.read_text())
    mutate(document)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))

    with pytest.raises(KeystoreError, match=message) as excinfo:
        load_key(broken, "s3cret")
    assert str(broken) in str(excinfo.value)


def test_missing_keystore_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"

    with pytest.raises(KeystoreError, match=f"keystore {path} does not exist"):
        load_key(path, "s3cret")


def test_keystore_address_does_not_decrypt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "member.json"
    create_keystore(path, "s3cret", private_key=PRIVATE_KEY, **FAST)

    def fail(*args: Any, **kwargs: Any) -> bytes:
        raise AssertionError("keystore_address must not decrypt")

    monkeypatch.setattr(Account, "decrypt", fail)

    assert keystore_address(path) == PRIVATE_KEY_ADDRESS


def test_keystore_address_is_returned_checksummed(tmp_path: Path) -> None:
    path = tmp_path / "member.json"
    create_keystore(path, "s3cret", private_key=PRIVATE_KEY, **FAST)
    document = json.loads(path.read_text())
    document["address"] = PRIVATE_KEY_ADDRESS[2:].lower()
    lowercase = tmp_path / "lower.json"
    lowercase.write_text(json.dumps(document))

    assert keystore_address(lowercase) == PRIVATE_KEY_ADDRESS


def test_load_rejects_a_keystore_whose_address_field_was_changed(tmp_path: Path) -> None:
    path = tmp_path / "member.json"
    create_keystore(path, "s3cret", private_key=PRIVATE_KEY, **FAST)
    document = json.loads(path.read_text())
    document["address"] = "00" * 20
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(document))

    with pytest.raises(KeystoreError, match="records address 0x0000"):
        load_key(forged, "s3cret")


def test_keyring_creates_lists_and_loads_keys_by_label(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path / "keys", **FAST)

    hospital = ring.create("st-marys-hospital", "pw-1")
    maker = ring.create("acme-devices", "pw-2", private_key=PRIVATE_KEY)

    assert ring.labels() == ["acme-devices", "st-marys-hospital"]
    assert maker == PRIVATE_KEY_ADDRESS
    assert ring.address("st-marys-hospital") == hospital
    assert ring.load("st-marys-hospital", "pw-1").address == hospital
    assert ring.load("acme-devices", "pw-2").address == maker
    assert (tmp_path / "keys" / "acme-devices.json").is_file()
    assert "acme-devices" in ring
    assert "nobody" not in ring


def test_keyring_directory_is_private(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path / "keys", **FAST)
    ring.create("acme", "pw")

    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE((tmp_path / "keys" / "acme.json").stat().st_mode) == 0o600


def test_keyring_of_a_missing_directory_has_no_labels(tmp_path: Path) -> None:
    assert KeyRing(tmp_path / "absent").labels() == []


def test_keyring_ignores_files_that_are_not_labelled_keystores(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path, **FAST)
    ring.create("acme", "pw")
    (tmp_path / "README.txt").write_text("notes")
    (tmp_path / "Not-A-Label.json").write_text("{}")
    (tmp_path / ".acme.json.abc.tmp").write_text("{}")

    assert ring.labels() == ["acme"]


@pytest.mark.parametrize("label", ["", "Acme", "acme_devices", "../escape", "a" * 41, "acme.json"])
def test_keyring_rejects_invalid_labels(tmp_path: Path, label: str) -> None:
    ring = KeyRing(tmp_path, **FAST)

    with pytest.raises(KeystoreError, match="invalid key label"):
        ring.create(label, "pw")
    assert list(tmp_path.iterdir()) == []


def test_keyring_accepts_a_forty_character_label(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path, **FAST)

    ring.create("a" * 40, "pw")

    assert ring.labels() == ["a" * 40]


def test_keyring_refuses_a_duplicate_label(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path, **FAST)
    first = ring.create("acme", "pw")

    with pytest.raises(KeystoreError, match="'acme' already exists"):
        ring.create("acme", "pw")
    assert ring.address("acme") == first


def test_keyring_reports_an_unknown_label(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path, **FAST)

    with pytest.raises(KeystoreError, match="no keystore for label 'ghost'"):
        ring.load("ghost", "pw")
    with pytest.raises(KeystoreError, match="no keystore for label 'ghost'"):
        ring.address("ghost")


def test_keyring_wrong_password_names_the_keystore(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path, **FAST)
    ring.create("acme", "pw")

    with pytest.raises(KeystoreError, match="wrong password for keystore .*acme.json"):
        ring.load("acme", "nope")


def test_keyring_rejects_a_bad_kdf_up_front(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="unknown kdf"):
        KeyRing(tmp_path, kdf="md5")


def test_validate_label_returns_valid_labels() -> None:
    assert keys.validate_label("acme-01") == "acme-01"
