"""The API process's one configuration object, from the environment or the CLI."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ApiSettings"]


class ApiSettings(BaseSettings):
    """Settings of `medledger api`. Secrets have no defaults: they come from the
    environment (MEDLEDGER_API_*) or files under `data_dir`."""

    model_config = SettingsConfigDict(env_prefix="MEDLEDGER_API_", extra="forbid")

    rpc_url: str = "http://127.0.0.1:8545"
    db_url: str = "sqlite:///.medledger/indexer.db"
    deployment_file: Path = Path(".medledger/deployment.json")
    data_dir: Path = Path(".medledger/api")
    regulator: bool = False
    public_base_url: str = "http://127.0.0.1:8000"
    # Per-client budget of the public verification API.
    verify_rate_per_minute: int = Field(default=120, ge=1)
    # Largest page any list route returns.
    max_page_size: int = Field(default=200, ge=1, le=1000)
    # Partner sign-in tokens.
    token_ttl_seconds: int = Field(default=900, ge=60)
