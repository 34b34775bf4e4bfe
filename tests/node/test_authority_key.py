"""The authority key lives only in the node process, which seals blocks: read from a file
only its owner may read, or taken out of the environment as soon as it is read; the RPC
front and the fetcher start with a scrubbed environment."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from medledger.node.app import AUTHORITY_KEY_ENV, Node
from medledger.node.child import helper_environment
from medledger.node.client import RpcClient
from medledger.node.config import NodeConfig
from medledger.node.errors import ConfigError
from tests.node.conftest import admin_account, sign, wait_receipt


def _key_file(tmp_path: Path, key: str, mode: int) -> Path:
    path = tmp_path / "authority-key.hex"
    path.write_text(key + "\n")
    path.chmod(mode)
    return path


def _without_demo_key(config: NodeConfig, tmp_path: Path, **runtime: Any) -> NodeConfig:
    return replace(
        config, demo_authority_key=None, data_dir=tmp_path / "node", rpc_port=0, **runtime
    )


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_key_file_others_may_read_is_refused(
    tmp_path: Path, node_config: NodeConfig, mode: int
) -> None:
    assert node_config.demo_authority_key
    path = _key_file(tmp_path, node_config.demo_authority_key, mode)
    with pytest.raises(ConfigError, match=f"mode {mode:o}.*chmod 600"):
        Node(_without_demo_key(node_config, tmp_path, authority_key_file=path))


def test_a_missing_key_file_is_named(tmp_path: Path, node_config: NodeConfig) -> None:
    path = tmp_path / "absent.hex"
    with pytest.raises(ConfigError, match="cannot read the authority key file .*absent.hex"):
        Node(_without_demo_key(node_config, tmp_path, authority_key_file=path))


def test_the_key_of_a_0600_file_seals_the_blocks(tmp_path: Path, node_config: NodeConfig) -> None:
    assert node_config.demo_authority_key
    path = _key_file(tmp_path, node_config.demo_authority_key, 0o600)
    node = Node(_without_demo_key(node_config, tmp_path, authority_key_file=path))
    node.start()
    client = RpcClient(node.url)
    try:
        admin = admin_account(node_config)
        receipt = wait_receipt(
            client, client.call("eth_sendRawTransaction", sign(admin, node_config, nonce=0))
        )
        seal = client.call("medledger_getSeal", receipt["blockNumber"])
        assert seal["signer"].lower() == Account.from_key(path.read_text().strip()).address.lower()
    finally:
        client.close()
        node.stop()


def test_the_key_leaves_the_environment_and_the_rpc_front_never_sees_it(
    tmp_path: Path, node_config: NodeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert node_config.demo_authority_key
    key = node_config.demo_authority_key
    monkeypatch.setenv(AUTHORITY_KEY_ENV, key)
    monkeypatch.setenv("MEDLEDGER_API_MASTER_KEY", "a-secret-of-another-service")
    node = Node(_without_demo_key(node_config, tmp_path, helper_process=True))
    node.start()
    try:
        assert AUTHORITY_KEY_ENV not in os.environ
        assert node.front is not None and node.front._child is not None
        front = node.front._child.process.pid
        environ = Path(f"/proc/{front}/environ").read_bytes()
        assert key[2:].encode() not in environ and key[2:].upper().encode() not in environ
        assert b"a-secret-of-another-service" not in environ
        assert b"PATH=" in environ
    finally:
        node.stop()


def test_a_helper_sees_only_what_python_the_locale_and_the_logs_need() -> None:
    given = {
        "PATH": "/usr/bin",
        "HOME": "/home/n",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "MEDLEDGER_LOG_FORMAT": "json",
        "MEDLEDGER_AUTHORITY_KEY": "0x" + "11" * 32,
        "MEDLEDGER_API_MASTER_KEY": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "DATABASE_URL": "postgresql://user:password@db/x",
    }
    assert helper_environment(given) == {
        "PATH": "/usr/bin",
        "HOME": "/home/n",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "MEDLEDGER_LOG_FORMAT": "json",
    }


def test_a_node_sealing_with_the_demo_key_still_starts_without_any_key_given(
    inprocess: Callable[..., Node], node_config: NodeConfig
) -> None:
    assert inprocess(node_config).sequencer is not None
