"""Serving with several workers hands the settings over in the environment, but no secret:
each goes by a 0600 file, and the workers' environments hold none."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from pydantic import SecretStr, ValidationError

from medledger.domain.settings import SECRETS, ApiSettings
from medledger.serve import settings_environment
from tests.api.conftest import ApiEnv

REPO = Path(__file__).resolve().parents[2]
MASTER = "ab" * 32
TOKEN = "staff-token-" + "x" * 20


def _private(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")
    return path


def test_a_secret_file_must_be_private_and_not_given_twice(tmp_path: Path) -> None:
    token = _private(tmp_path / "token", TOKEN)
    made = ApiSettings(regulator_api_token_file=token)
    assert made.regulator_api_token is not None
    assert made.regulator_api_token.get_secret_value() == TOKEN
    token.chmod(0o640)
    with pytest.raises(ValidationError, match="must be a private file"):
        ApiSettings(regulator_api_token_file=token)
    token.chmod(0o600)
    with pytest.raises(ValidationError, match="not both"):
        ApiSettings(regulator_api_token=SecretStr(TOKEN), regulator_api_token_file=token)
    with pytest.raises(ValidationError, match="is not a file"):
        ApiSettings(master_key_file=tmp_path / "missing")


def test_the_workers_environment_names_secret_files_not_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _private(tmp_path / "token", TOKEN)
    settings = ApiSettings(
        master_key=SecretStr(MASTER), regulator_api_token_file=token, data_dir=tmp_path
    )
    env = settings_environment(settings, secrets_dir=tmp_path / "worker-secrets")
    assert not any(MASTER in v or TOKEN in v for v in env.values()), env
    assert env["MEDLEDGER_API_REGULATOR_API_TOKEN_FILE"] == str(token)  # the operator's file
    written = Path(env["MEDLEDGER_API_MASTER_KEY_FILE"])
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    files = {f"{name}_file" for name in SECRETS}
    assert ApiSettings().model_dump(exclude=files) == settings.model_dump(exclude=files)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_api_workers_hold_no_secret_in_their_environment(api: ApiEnv) -> None:
    s = api.services.settings
    port = _free_port()
    env = dict(os.environ, MEDLEDGER_API_MASTER_KEY=MASTER)
    args = [sys.executable, "-m", "medledger.cli", "api", "--workers", "2", "--port", str(port)]
    args += ["--db", s.db_url, "--deployment", str(s.deployment_file)]
    args += ["--data-dir", str(s.data_dir), "--no-access-log"]
    proc = subprocess.Popen(args, cwd=REPO, env=env)
    try:
        for _ in range(600):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "medledger api --workers 2 exited"
            time.sleep(0.1)
        workers = psutil.Process(proc.pid).children(recursive=True)
        assert len(workers) >= 2
        for worker in workers:
            environment = Path(f"/proc/{worker.pid}/environ").read_bytes().decode()
            assert MASTER not in environment, worker.pid
            assert "MEDLEDGER_API_MASTER_KEY_FILE=" in environment
        # The workers read the key: partner sign-in's challenges are signed with it.
        challenge = httpx.post(
            f"http://127.0.0.1:{port}/v1/auth/challenge",
            json={"address": api.consortium.manufacturer.address},
            timeout=10,
        )
        assert challenge.status_code == 200, challenge.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert not (s.data_dir / "worker-secrets").exists()
