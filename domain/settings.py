"""The API process's one configuration object, from the environment or the CLI.

Every secret setting (`SECRETS`) has a file variant, `<name>_file` (MEDLEDGER_API_<NAME>_FILE):
a file of mode 0600 or narrower holding the value, read once when the settings are made, so
the secret is in the process's memory and never in its environment. A file readable by
others, or both the value and its file given, is a settings error (the process does not
start).
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["SECRETS", "ApiSettings", "read_secret_file"]

SECRETS = (
    "master_key",
    "relayer_key",
    "regulator_key_password",
    "regulator_api_token",
    "amqp_url",
)
"""The settings that hold secrets, each with a `<name>_file` variant."""


def read_secret_file(path: Path) -> str:
    """The stripped text of `path`, which must be a regular file no one else may read or
    write (mode 0600 or narrower)."""
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ValueError(f"{path} must be a private file (mode 0600), not {mode:04o}")
    value = path.read_text().strip()
    if not value:
        raise ValueError(f"{path} is empty")
    return value


class ApiSettings(BaseSettings):
    """Settings of `medledger api`. Secrets have no defaults: they come from the
    environment (MEDLEDGER_API_*), from their `*_file` (see the module doc) or files
    under `data_dir`."""

    model_config = SettingsConfigDict(env_prefix="MEDLEDGER_API_", extra="forbid")

    rpc_url: str = "http://127.0.0.1:8545"
    db_url: str = "sqlite:///.medledger/indexer.db"
    deployment_file: Path = Path(".medledger/deployment.json")
    data_dir: Path = Path(".medledger/api")
    regulator: bool = False
    public_base_url: str = "http://127.0.0.1:8000"
    # Per-client budget of the public verification API.
    verify_rate_per_minute: int = Field(default=120, ge=1)
    # Verification anomalies: two scans of one unit at least `verify_distant_km` apart within
    # `verify_window_seconds` are suspect, and so is a scan more than `verify_grace_seconds`
    # after the unit was dispensed or destroyed.
    verify_window_seconds: int = Field(default=6 * 3600, ge=60)
    verify_distant_km: float = Field(default=300.0, gt=0)
    verify_grace_seconds: int = Field(default=24 * 3600, ge=0)
    # The listener (`api.listener`): a connection idle this long after a response, or whose
    # request headers are not complete this long after it opened, is closed; at most
    # `max_connections` connections and requests at once (more are answered 503); a request
    # head larger than `max_header_bytes` is a 400.
    idle_timeout_seconds: int = Field(default=5, ge=1, le=300)
    max_connections: int = Field(default=256, ge=1)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated IPs
    # or CIDR networks, as uvicorn's forwarded_allow_ips; "*" trusts every peer). Empty:
    # none, so a client's address is always its peer's and no one can choose its own.
    forwarded_allow_ips: str = ""
    # Request bodies (`api.http_guard`): one must start within `body_timeout_seconds` and
    # then keep arriving at `body_min_bytes_per_second` on average, else a 408.
    body_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    body_min_bytes_per_second: int = Field(default=50_000, ge=1)
    # Read your own writes: a write answers once the read model has indexed its block, or
    # after this many seconds with `indexed: false` (the portal shows it as pending).
    read_model_wait_seconds: float = Field(default=3.0, ge=0, le=60)
    # Idempotency-Key on POSTs (`web.idempotency`): first answers are kept this long, a
    # request holds its key for at most `idempotency_lease_seconds` (then a retry may run
    # again), and an answer larger than `idempotency_max_answer_bytes` is not kept.
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60, le=30 * 24 * 3600)
    idempotency_lease_seconds: float = Field(default=120.0, ge=1, le=3600)
    idempotency_max_answer_bytes: int = Field(default=1024 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Largest page any list route returns.
    max_page_size: int = Field(default=200, ge=1, le=1000)
    # Partner sign-in tokens.
    token_ttl_seconds: int = Field(default=900, ge=60)
    # Partner API's own tables (challenges, API keys, custodial keys, documents); default
    # sqlite:///<data_dir>/api.db. Separate from the indexer's schema.
    api_db_url: str | None = None
    # 32-byte hex master key: encrypts custodial keys and document key-encryption keys at
    # rest and signs sign-in tokens. No default: partner sign-in needs it set.
    master_key: SecretStr | None = None
    # Hex private key of the platform relayer (granted RELAYER_ROLE by the admin).
    relayer_key: SecretStr | None = None
    # PEM of the consortium CA that issues member client certificates.
    ca_cert_file: Path | None = None
    # Header in which a TLS-terminating proxy passes the verified client certificate
    # (URL-encoded PEM, as nginx's $ssl_client_escaped_cert). Unset: header ignored.
    client_cert_header: str | None = None
    challenge_ttl_seconds: int = Field(default=300, ge=30)
    # Regulator mode: the regulator's signing key (an eth-account keystore JSON and its
    # password), the bearer token its staff use, where writes go (the follower refuses
    # them; None = `rpc_url`), and the alerts feed's adverse-event threshold.
    regulator_keystore: Path | None = None
    regulator_key_password: SecretStr | None = None
    regulator_api_token: SecretStr | None = None
    # The file variants of the secrets above (see the module doc).
    master_key_file: Path | None = None
    relayer_key_file: Path | None = None
    regulator_key_password_file: Path | None = None
    regulator_api_token_file: Path | None = None
    amqp_url_file: Path | None = None
    submit_rpc_url: str | None = None
    adverse_event_rate_threshold: float = Field(default=0.01, gt=0, le=1)
    # Regulator mode: the partner API whose oversight feed (public scans and recall
    # acknowledgements, `api.oversight_feed`) this process pulls, signed in with the
    # regulator's key, every `oversight_feed_interval` seconds. None: no pull.
    oversight_feed_url: str | None = None
    oversight_feed_interval: float = Field(default=2.0, gt=0, le=3600)
    # Webhooks (`domain.delivery`): plain http only to loopback/private hosts and only when
    # allowed (the demo and tests); retries back off from `webhook_base_delay` seconds up to
    # `webhook_max_delay` with full jitter; after `webhook_max_attempts` the delivery is
    # dead-lettered and its subscription suspended. `webhook_delivery`: run the worker.
    webhook_allow_private_http: bool = False
    webhook_base_delay: float = Field(default=1.0, gt=0, le=3600)
    webhook_max_delay: float = Field(default=600.0, gt=0, le=86400)
    webhook_max_attempts: int = Field(default=12, ge=1, le=100)
    webhook_poll_seconds: float = Field(default=0.2, gt=0, le=60)
    # How long a delivering process holds a subscription: after a crash, another process
    # (or the restarted one) takes it over once this has passed.
    webhook_lease_seconds: float = Field(default=30.0, ge=0.5, le=600)
    webhook_delivery: bool = True
    # EPCIS query subscriptions on a schedule (`domain.epcis_schedule`): the shortest
    # allowed time between two runs, bounding the load each subscription puts on the node.
    epcis_schedule_min_seconds: float = Field(default=3600.0, ge=1, le=86400 * 31)
    # EPCIS: the GS1 JSON schema (None = the copy shipped in api/epcis/reference) and the database
    # of captured event hashes (None = sqlite under data_dir).
    epcis_schema_file: Path | None = None
    epcis_db_url: str | None = None
    # The audit trail (`domain.audit`): anchor an organisation's chain head on chain every
    # this many entries (0: only on demand, `medledger audit anchor`).
    audit_anchor_every: int = Field(default=100, ge=0, le=1_000_000)
    # The event stream on an AMQP 0-9-1 broker (`domain.delivery.amqp`): the broker's URL
    # (amqp://user:password@host:port/vhost, a secret: it holds the password) and how often
    # the publisher looks for new events. None: no broker, nothing published there.
    amqp_url: SecretStr | None = None
    amqp_exchange: str = Field(default="medledger.events", min_length=1, max_length=255)
    amqp_poll_seconds: float = Field(default=0.5, gt=0, le=60)

    @model_validator(mode="after")
    def _read_secret_files(self) -> Self:
        for name in SECRETS:
            path: Path | None = getattr(self, f"{name}_file")
            if path is None:
                continue
            if getattr(self, name) is not None:
                raise ValueError(f"set {name} or {name}_file, not both")
            setattr(self, name, SecretStr(read_secret_file(path)))
        return self
