"""Serving the app with uvicorn, in one process or several (`medledger api --workers N`).

Worker processes build their own app from the environment (`app_from_environment`), so
`serve` hands the settings over as MEDLEDGER_API_* variables. Every worker shares what must
be shared through the databases: the indexer's, the API's own and the verification rate
limit's file under `data_dir`, and the per-account nonce locks of the keys they all relay
with (`data_dir/locks`).

The listener is bounded by `api.listener.uvicorn_options`: idle and header timeouts, a cap
on connections, the largest request head.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from pydantic import SecretStr
from uvicorn.config import LOGGING_CONFIG

from api.listener import uvicorn_options
from api.settings import ApiSettings
from sdk.transactions import share_sender_locks

__all__ = ["app_from_environment", "serve", "settings_environment"]


def app_from_environment() -> FastAPI:
    """uvicorn `--factory` entry point: settings from MEDLEDGER_API_* variables."""
    from api.main import create_app
    from api.services import Services

    settings = ApiSettings()
    share_sender_locks(settings.data_dir / "locks")
    return create_app(Services.from_settings(settings))


def settings_environment(settings: ApiSettings) -> dict[str, str]:
    """The MEDLEDGER_API_* variables that make `ApiSettings()` equal `settings`."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
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
    if workers == 1:
        from api.main import create_app
        from api.services import Services

        target: FastAPI | str = create_app(Services.from_settings(settings))
    else:
        os.environ.update(settings_environment(settings))
        target = "api.serve:app_from_environment"
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
