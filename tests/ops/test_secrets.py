"""The stack's secrets on disk: each where the process that reads it looks, 0600 in 0700
directories, the regulator's key only inside its keystore, and an older layout moved."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from eth_account import Account

from medledger.ops.secrets import load_or_create_secrets


def _files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_secrets_are_made_where_their_process_reads_them_and_never_in_clear_twice(
    tmp_path: Path,
) -> None:
    made = load_or_create_secrets(tmp_path / "secrets")
    files = _files(tmp_path)
    assert set(files) == {
        "secrets/authority-key.hex",
        "secrets/admin-key.hex",
        "secrets/regulator-keystore.json",
        "secrets/regulator-api-token",
        "api/master-key.hex",
        "api/relayer-key.hex",
        "regulator-api/master-key.hex",
        "regulator-api/regulator-key-password",
    }
    for path in tmp_path.rglob("*"):
        assert path.stat().st_mode & 0o077 == 0, path
    clear = made.regulator_key.removeprefix("0x")
    assert not any(clear in text for text in files.values())
    keystore = json.loads(files["secrets/regulator-keystore.json"])
    assert Account.decrypt(keystore, made.regulator_key_password).hex() == clear
    assert load_or_create_secrets(tmp_path / "secrets") == made  # loaded, not made again


def test_an_older_layout_is_moved_and_its_clear_regulator_key_deleted(tmp_path: Path) -> None:
    old = tmp_path / "secrets"
    old.mkdir(mode=0o700)
    values = {
        name: "0x" + secrets.token_hex(32)
        for name in ("master-key.hex", "regulator-master-key.hex", "relayer-key.hex")
    }
    values["regulator-key.hex"] = "0x" + secrets.token_hex(32)
    values["regulator-key-password"] = "old-password"
    for name, value in values.items():
        (old / name).write_text(value + "\n")
    made = load_or_create_secrets(old)
    assert not (old / "regulator-key.hex").exists()
    assert not (old / "regulator-key-password").exists()
    assert made.master_key == values["master-key.hex"]
    assert made.regulator_master_key == values["regulator-master-key.hex"]
    assert made.relayer_key == values["relayer-key.hex"]
    assert made.regulator_key == values["regulator-key.hex"]
    assert made.regulator_key_password == "old-password"
    assert (tmp_path / "regulator-api" / "master-key.hex").read_text().strip() == (
        values["regulator-master-key.hex"]
    )
