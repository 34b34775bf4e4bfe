"""`medledger node` refuses bad command-line values with a message naming them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.node.conftest import REPO


def _node(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "medledger.cli", "node", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_missing_genesis_file_is_named(tmp_path: Path) -> None:
    result = _node("--data-dir", str(tmp_path / "d"), "--genesis", str(tmp_path / "nope.json"))
    assert result.returncode == 2
    message = " ".join(result.stdout.split())  # rich may wrap long lines
    assert "nope.json does not exist" in message


def test_a_follow_url_that_is_not_http_is_named(tmp_path: Path, genesis_file: Path) -> None:
    result = _node(
        "--data-dir", str(tmp_path / "d"), "--genesis", str(genesis_file),
        "--rpc-port", "0", "--follow", "ftp://regulator",
    )  # fmt: skip
    assert result.returncode == 2
    assert "ftp://regulator" in " ".join(result.stdout.split())


def test_an_authority_key_outside_the_genesis_authority_set_is_refused(
    tmp_path: Path, genesis_file: Path
) -> None:
    result = _node(
        "--data-dir", str(tmp_path / "d"), "--genesis", str(genesis_file),
        "--rpc-port", "0", "--authority-key", "0x" + "11" * 32,
    )  # fmt: skip
    assert result.returncode == 2
    assert "not in the genesis authority set" in " ".join(result.stdout.split())
