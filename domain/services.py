"""What every request handler may need, built once per process: the indexer database,
the chain (any Ethereum JSON-RPC endpoint), the deployment and the platform keys."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from web3 import HTTPProvider, Web3

from medledger.domain.settings import ApiSettings
from medledger.sdk.abi import AbiCodec
from medledger.sdk.compiler import ContractArtifact, load_artifacts
from medledger.sdk.deploy import CONTRACT_NAMES, Deployment

__all__ = ["Component", "Components", "Services", "load_platform_key"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Component(Generic[T]):
    """The typed key of one per-process component (a store, a cache, a rate limiter),
    declared by the module that builds it: `STORE: Component[ApiStore] = Component("…")`."""

    name: str


class Components:
    """The components a process built on first use, each under its typed key. Building
    one holds a re-entrant lock, so concurrent first requests share one instance and a
    component may be built from another."""

    def __init__(self) -> None:
        self._made: dict[Component[Any], Any] = {}
        self._lock = threading.RLock()

    def get(self, key: Component[T], make: Callable[[], T]) -> T:
        """The component under `key`, built with `make` the first time."""
        try:
            return cast(T, self._made[key])
        except KeyError:
            pass
        with self._lock:
            if key not in self._made:
                self._made[key] = make()
            return cast(T, self._made[key])

    def peek(self, key: Component[T]) -> T | None:
        """The component under `key` if it was built."""
        return cast("T | None", self._made.get(key))

    def put(self, key: Component[T], value: T) -> None:
        with self._lock:
            self._made[key] = value

    def pop(self, key: Component[T]) -> T | None:
        """Forget the component under `key` and give it back (to close it)."""
        with self._lock:
            return cast("T | None", self._made.pop(key, None))


@dataclass
class Services:
    settings: ApiSettings
    engine: Engine
    w3: Web3
    deployment: Deployment
    artifacts: dict[str, ContractArtifact]
    platform_key: Ed25519PrivateKey
    # The regulator's signing key when given directly (tests); else its keystore is read.
    regulator_account: LocalAccount | None = None
    # What features build on first use (stores, caches, rate limiters), by typed key.
    components: Components = field(default_factory=Components)

    @property
    def codec(self) -> AbiCodec:
        return self.components.get(
            CODEC, lambda: AbiCodec({name: self.artifacts[name].abi for name in CONTRACT_NAMES})
        )

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> Services:
        from medledger.indexer.db import make_engine

        return cls(
            settings=settings,
            engine=make_engine(settings.db_url),
            w3=Web3(HTTPProvider(settings.rpc_url)),
            deployment=Deployment.load(settings.deployment_file),
            artifacts=load_artifacts(),
            platform_key=load_platform_key(settings.data_dir / "platform-ed25519.pem"),
        )


CODEC: Component[AbiCodec] = Component("codec")


def load_platform_key(path: Path) -> Ed25519PrivateKey:
    """The platform's Ed25519 response-signing key, created (mode 0600, in a 0700
    directory) on first start."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_suffix(".tmp")
    tmp.touch(mode=0o600)
    tmp.write_bytes(pem)
    tmp.replace(path)
    return key
