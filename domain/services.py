"""What every request handler may need, built once per process: the indexer database,
the chain (any Ethereum JSON-RPC endpoint), the deployment and the platform keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine
from web3 import HTTPProvider, Web3

from domain.settings import ApiSettings
from sdk.abi import AbiCodec
from sdk.compiler import ContractArtifact, load_artifacts
from sdk.deploy import CONTRACT_NAMES, Deployment

__all__ = ["Services", "load_platform_key"]


@dataclass
class Services:
    settings: ApiSettings
    engine: Engine
    w3: Web3
    deployment: Deployment
    artifacts: dict[str, ContractArtifact]
    platform_key: Ed25519PrivateKey
    # Per-feature state that route modules attach at startup (rate limiters, caches).
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def codec(self) -> AbiCodec:
        codec = self.extras.get("codec")
        if codec is None:
            codec = AbiCodec({name: self.artifacts[name].abi for name in CONTRACT_NAMES})
            self.extras["codec"] = codec
        assert isinstance(codec, AbiCodec)
        return codec

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> Services:
        from indexer.db import make_engine

        return cls(
            settings=settings,
            engine=make_engine(settings.db_url),
            w3=Web3(HTTPProvider(settings.rpc_url)),
            deployment=Deployment.load(settings.deployment_file),
            artifacts=load_artifacts(),
            platform_key=load_platform_key(settings.data_dir / "platform-ed25519.pem"),
        )


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
