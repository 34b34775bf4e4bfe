"""Serving the app with uvicorn, in one process or several (`medledger api --workers N`).

Worker processes build their own app from the environment (`app_from_environment`), so
`serve` hands the settings over as MEDLEDGER_API_* variables, but no secret: a secret goes
by its file variant (`ApiSettings`' `*_file`, mode 0600), the operator's file if it came
from one, else one written under `data_dir/worker-secrets` (0700) for the workers to read
and deleted when serving ends; the secrets' own variables are taken out of the environment
the workers inherit. Every worker shares what must
be shared through the databases: the indexer's, the API's own and the verification rate
limit's file under `data_dir`, and the per-account nonce locks of the keys they all relay
with (`data_dir/locks`).

The listener is bounded by `api.listener.uvicorn_options`: idle and header timeouts, a cap
on connections, the largest request head, and X-Forwarded-For believed only from
`settings.forwarded_allow_ips` (none by default).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG

from medledger.domain.settings import SECRETS, ApiSettings
from medledger.sdk.transactions import share_sender_locks
from medledger.web.listener import uvicorn_options

__all__ = ["app_from_environment", "serve", "settings_environment"]


def app_from_environment() -> FastAPI:
    """uvicorn `--factory` entry point: settings from MEDLEDGER_API_* variables."""
    from medledger.app import create_app
    from medledger.domain.services import Services

    settings = ApiSettings()
    share_sender_locks(settings.data_dir / "locks")
    return create_app(Services.from_settings(settings))


def settings_environment(settings: ApiSettings, *, secrets_dir: Path) -> dict[str, str]:
    """The MEDLEDGER_API_* variables that make `ApiSettings()` equal `settings`, each secret
    by its file: the one it was read from, else one written to `secrets_dir` (0600)."""
    env: dict[str, str] = {}
    values = settings.model_dump()
    for name in SECRETS:
        secret, path = values.pop(name), values.pop(f"{name}_file")
        if secret is not None and path is None:
            secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = secrets_dir / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secret.get_secret_value())
        if path is not None:
            env[f"MEDLEDGER_API_{name.upper()}_FILE"] = str(path)
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        env[f"MEDLEDGER_API_{name.upper()}"] = str(value)
    return env


def serve(
    settings: ApiSettings,
    *,
    host: str,
    port: int,
    workers: int = 1,
    access_log: bool = True,
    log_level: str = "info",
    log_config: dict[str, Any] | None = LOGGING_CONFIG,
) -> None:
    """Run the API until interrupted; more than one worker means worker processes (each
    configures its logging from `log_config`; None leaves it to the caller's process)."""
    import uvicorn

    if workers < 1:
        raise ValueError(f"workers must be >= 1, not {workers}")
    target: FastAPI | str = "medledger.serve:app_from_environment"
    if workers == 1:
        from medledger.app import create_app
        from medledger.domain.services import Services

        target = create_app(Services.from_settings(settings))
    with _worker_environment(settings, workers=workers):
        uvicorn.run(
            target,
            factory=workers > 1,
            workers=workers if workers > 1 else None,
            host=host,
            port=port,
            access_log=access_log,
            log_level=log_level,
            log_config=log_config,
            **uvicorn_options(settings),
        )


@contextmanager
def _worker_environment(settings: ApiSettings, *, workers: int) -> Iterator[None]:
    """With more than one worker: the settings in this process's environment (which the
    workers inherit), secrets by file only; the secrets' files written here are deleted
    afterwards."""
    if workers == 1:
        yield
        return
    secrets_dir = settings.data_dir / "worker-secrets"
    for name in SECRETS:
        os.environ.pop(f"MEDLEDGER_API_{name.upper()}", None)
    os.environ.update(settings_environment(settings, secrets_dir=secrets_dir))
    try:
        yield
    finally:
        shutil.rmtree(secrets_dir, ignore_errors=True)
