"""The stack's secrets, generated on first start and kept under `<data_dir>/secrets/` with
mode 0600: the block authority key, the bootstrap admin key, the partner and regulator API
master keys, the platform relayer key, the regulator's keystore (and its password) and the
regulator staff's API token. Never printed."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr

__all__ = ["StackSecrets", "load_or_create_secrets", "private_file"]


def private_file(path: Path, make: Callable[[], str]) -> str:
    """The text of `path`, first written from `make()` with mode 0600 if it is missing."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = make()
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    tmp.replace(path)
    return value


def _hex32() -> str:
    return "0x" + secrets.token_hex(32)


@dataclass(frozen=True, slots=True)
class StackSecrets:
    directory: Path
    authority_key: str
    admin_key: str
    master_key: str
    regulator_master_key: str
    relayer_key: str
    regulator_key: str
    regulator_key_password: str
    regulator_api_token: str

    @property
    def regulator_keystore(self) -> Path:
        return self.directory / "regulator-keystore.json"

    def account(self, which: str) -> LocalAccount:
        """`admin`, `authority`, `relayer` or `regulator` as an eth-account signer."""
        key: str = getattr(self, f"{which}_key")
        account: LocalAccount = Account.from_key(key)
        return account


def load_or_create_secrets(directory: Path) -> StackSecrets:
    def get(name: str, make: Callable[[], str] = _hex32) -> str:
        return private_file(directory / name, make)

    made = StackSecrets(
        directory=directory,
        authority_key=get("authority-key.hex"),
        admin_key=get("admin-key.hex"),
        master_key=get("master-key.hex", lambda: secrets.token_hex(32)),
        regulator_master_key=get("regulator-master-key.hex", lambda: secrets.token_hex(32)),
        relayer_key=get("relayer-key.hex"),
        regulator_key=get("regulator-key.hex"),
        regulator_key_password=get("regulator-key-password", lambda: secrets.token_urlsafe(24)),
        regulator_api_token=get("regulator-api-token", lambda: secrets.token_urlsafe(32)),
    )
    private_file(
        made.regulator_keystore,
        lambda: json.dumps(
            Account.encrypt(HexStr(made.regulator_key), made.regulator_key_password)
        ),
    )
    return made
