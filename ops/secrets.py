"""The stack's secrets, generated on first start, each kept (mode 0600, in a 0700
directory) only where the process that uses it reads it, and never printed:

```
<data_dir>/secrets/        the operator's: authority-key.hex (the sequencer), admin-key.hex
                           (the demo seed), regulator-keystore.json (the regulator's key,
                           encrypted), regulator-api-token (for the regulator's staff),
                           members.json and demo-sign-ins.json (the demo's)
<data_dir>/api/            master-key.hex, relayer-key.hex: read by the partner API itself
                           (`domain.custodial_keys.secret_setting`), so they are in no environment
<data_dir>/regulator-api/  master-key.hex (read by the regulator API itself) and
                           regulator-key-password, which unlocks the keystore: given to the
                           regulator API alone when it starts, kept apart from the keystore
```

No plaintext copy of the regulator's key exists: it is made inside its keystore, which
`load_or_create_secrets` decrypts in memory for the seed. A data directory laid out as
before (everything in `secrets/`, with `regulator-key.hex` in clear) is moved to this
layout the next time it is loaded, and the clear key is deleted.
"""

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

# The keystore's password is 144 random bits, so its KDF needs no work factor to resist
# guessing; a small scrypt cost keeps unlocking it quick (eth-account's default takes ~1 s
# and 256 MiB in every process that unlocks it).
_KEYSTORE_SCRYPT_N = 2**14


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
    """The secrets in memory of the process that starts the stack (and seeds it)."""

    directory: Path
    authority_key: str
    admin_key: str
    master_key: str
    regulator_master_key: str
    relayer_key: str
    regulator_key: str  # decrypted from the keystore; on disk only encrypted
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
    """The secrets of the stack whose `secrets/` directory is `directory` (the API
    directories beside it hold theirs), made where missing."""
    api, regulator_api = directory.parent / "api", directory.parent / "regulator-api"
    _move_old_layout(directory, api=api, regulator_api=regulator_api)
    password = private_file(
        regulator_api / "regulator-key-password", lambda: secrets.token_urlsafe(18)
    )
    keystore = private_file(
        directory / "regulator-keystore.json",
        lambda: json.dumps(
            Account.encrypt(HexStr(_hex32()), password, kdf="scrypt", iterations=_KEYSTORE_SCRYPT_N)
        ),
    )
    return StackSecrets(
        directory=directory,
        authority_key=private_file(directory / "authority-key.hex", _hex32),
        admin_key=private_file(directory / "admin-key.hex", _hex32),
        master_key=private_file(api / "master-key.hex", lambda: secrets.token_hex(32)),
        regulator_master_key=private_file(
            regulator_api / "master-key.hex", lambda: secrets.token_hex(32)
        ),
        relayer_key=private_file(api / "relayer-key.hex", _hex32),
        regulator_key="0x" + bytes(Account.decrypt(json.loads(keystore), password)).hex(),
        regulator_key_password=password,
        regulator_api_token=private_file(
            directory / "regulator-api-token", lambda: secrets.token_urlsafe(32)
        ),
    )


def _move_old_layout(directory: Path, *, api: Path, regulator_api: Path) -> None:
    """Move the secrets an older stack kept together in `directory` to where their
    process reads them, and replace a clear regulator key by its keystore alone."""
    moves = {
        "master-key.hex": api / "master-key.hex",
        "relayer-key.hex": api / "relayer-key.hex",
        "regulator-master-key.hex": regulator_api / "master-key.hex",
        "regulator-key-password": regulator_api / "regulator-key-password",
    }
    for name, target in moves.items():
        old = directory / name
        if old.exists() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            old.replace(target)
    clear = directory / "regulator-key.hex"
    if clear.exists():
        password = regulator_api / "regulator-key-password"
        if password.exists():
            private_file(
                directory / "regulator-keystore.json",
                lambda: json.dumps(
                    Account.encrypt(
                        HexStr(clear.read_text().strip()),
                        password.read_text().strip(),
                        kdf="scrypt",
                        iterations=_KEYSTORE_SCRYPT_N,
                    )
                ),
            )
            clear.unlink()
